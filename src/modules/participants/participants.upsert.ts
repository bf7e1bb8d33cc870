// Upserts by the hospital's ids for protocols (by code) and participants (by the LIS patient id,
// kept only as a keyed hash like the MRN): the first call creates, a changed body updates the
// fields that differ, and the same body again writes nothing (no version, audit row or feed
// entry). Fields the body leaves out keep their stored value. A protocol's consent tiers are
// fixed once it exists: donors consented to them, and changing them would change what every
// signed consent permits (a new consent form is a new protocol).
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { lockNaturalKey, retryAfterUniqueRace } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import { immutableField, noCurrentVersion, validationFailed, versionConflict } from '../../errors.js';
import { DEFAULT_DISEASE_AREA } from '../../vocabulary/disease-areas.js';
import { recordAudit } from '../audit/index.js';
import { toParticipantView } from './participants.dto.js';
import { protocolCodeTaken, protocolNotFound } from './participants.errors.js';
import type { HospitalIdHashes } from './participants.hashes.js';
import {
  findParticipantByLisPatientHash,
  findProtocolByCode,
  findProtocolByCodeInAnyCase,
  insertParticipant,
  insertProtocol,
  updateParticipantRow,
  updateProtocolRow,
  type ParticipantRow,
  type ProtocolRow,
} from './participants.repo.js';
import type { ParticipantView, UpsertParticipantInput, UpsertProtocolInput } from './participants.service.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const sameSet = (a: readonly string[], b: readonly string[]) =>
  new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));

/** The scalar fields `wanted` gives with a value other than the row's. */
function differing<T extends Record<string, unknown>>(row: T, wanted: Partial<T>): Partial<T> {
  return Object.fromEntries(
    Object.entries(wanted).filter(([k, v]) => v !== undefined && row[k] !== v),
  ) as Partial<T>;
}

export function createParticipantUpsert(deps: { db: Db; hashes: HospitalIdHashes }) {
  const { db, hashes } = deps;

  return {
    /**
     * Creates the institution's protocol with this code, or brings its title, ethics approval and
     * disease area (when given) to the body's. Throws VALIDATION_FAILED (a body code other than the path's),
     * IMMUTABLE_FIELD (other consent tiers), VERSION_CONFLICT, NO_CURRENT_VERSION.
     */
    async upsertProtocol(
      ctx: Ctx,
      input: { code: string; body: UpsertProtocolInput; expectedVersion?: ExpectedVersion },
    ): Promise<{ created: boolean; protocol: ProtocolRow }> {
      authorize(ctx.actor, 'protocols.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const { code, body: b, expectedVersion } = input;
      if (b.code !== undefined && b.code !== code)
        throw validationFailed([{ field: 'code', message: `differs from the code of the path, ${code}` }]);
      return retryAfterUniqueRace(['protocol_code_unique'], () =>
        inTransaction(db, ctx, async (tx) => {
          await lockNaturalKey(tx, 'protocol_code', institutionId, code.toLowerCase());
          const row = await findProtocolByCode(tx, institutionId, code, { lock: true });
          if (!row) {
            // A typo in case must not create a second protocol beside the one meant.
            const other = await findProtocolByCodeInAnyCase(tx, institutionId, code);
            if (other) throw protocolCodeTaken(code, other.code);
            if (expectedVersion !== undefined) throw noCurrentVersion(`protocol ${code}`, expectedVersion);
            const created = await insertProtocol(tx, {
              id: newId(),
              institutionId,
              code,
              title: b.title,
              ethicsApprovalRef: b.ethicsApprovalRef,
              consentTiers: b.consentTiers ?? [],
              diseaseArea: b.diseaseArea ?? DEFAULT_DISEASE_AREA,
            });
            await recordAudit(tx, ctx, {
              action: 'upsertProtocol',
              entityType: 'collection_protocol',
              entityId: created.id,
              institutionId,
              after: created,
            });
            return { created: true, protocol: created };
          }
          const tiersDiffer = b.consentTiers !== undefined && !sameSet(b.consentTiers, row.consentTiers);
          const patch = differing(row, {
            title: b.title,
            ethicsApprovalRef: b.ethicsApprovalRef,
            diseaseArea: b.diseaseArea,
          });
          const unchanged = !tiersDiffer && Object.keys(patch).length === 0;
          // A stale version is refused unless the protocol already is as asked (RFC 9110 13.1.1).
          if (
            expectedVersion !== undefined &&
            resolveVersion(expectedVersion, row.version) !== row.version &&
            !unchanged
          )
            throw versionConflict(`protocol ${code}`, expectedVersion, row.version);
          if (tiersDiffer) {
            const list = (tiers: readonly string[]) => tiers.join(', ') || 'none';
            throw immutableField(`protocol ${code}`, [
              {
                field: 'consentTiers',
                message: `are ${list(row.consentTiers)}; ${list(b.consentTiers ?? [])} was sent`,
              },
            ]);
          }
          if (unchanged) return { created: false, protocol: row };
          const after = await updateProtocolRow(tx, row.id, row.version, patch);
          await recordAudit(tx, ctx, {
            action: 'upsertProtocol',
            entityType: 'collection_protocol',
            entityId: row.id,
            institutionId,
            before: row,
            after,
          });
          return { created: false, protocol: after! };
        }),
      );
    },

    /**
     * Creates the participant of protocol `protocolCode` with this LIS patient id, or brings its
     * fields to the body's. Needs `participants.identity`: the key and several fields are
     * identity fields. Throws PROTOCOL_NOT_FOUND, PARTICIPANT_EXISTS (the protocol participant id
     * or MRN is another donor's), VERSION_CONFLICT, NO_CURRENT_VERSION.
     */
    async upsertParticipant(
      ctx: Ctx,
      input: { protocolCode: string; body: UpsertParticipantInput; expectedVersion?: ExpectedVersion },
    ): Promise<{ created: boolean; participant: ParticipantView }> {
      authorize(ctx.actor, 'participants.manage');
      authorize(ctx.actor, 'participants.identity');
      const institutionId = actorInstitutionId(ctx.actor);
      const { body: b, expectedVersion } = input;
      const lisPatientIdHash = hashes.lisPatientId(institutionId, b.lisPatientId);
      const mrnHash = b.mrn === undefined ? undefined : hashes.mrn(institutionId, b.mrn);
      return retryAfterUniqueRace(['participant_protocol_lis_patient_unique'], () =>
        inTransaction(db, ctx, async (tx) => {
          const protocol = await findProtocolByCode(tx, institutionId, input.protocolCode);
          if (!protocol) throw protocolNotFound(input.protocolCode, 'code');
          await lockNaturalKey(tx, 'participant_lis_patient', protocol.id, lisPatientIdHash);
          const row = await findParticipantByLisPatientHash(
            tx,
            institutionId,
            protocol.id,
            lisPatientIdHash,
            {
              lock: true,
            },
          );
          if (!row) {
            if (expectedVersion !== undefined)
              throw noCurrentVersion(
                `participant with this LIS patient id in protocol ${protocol.code}`,
                expectedVersion,
              );
            const created = await insertParticipant(tx, {
              id: newId(),
              institutionId,
              protocolId: protocol.id,
              protocolParticipantId: b.protocolParticipantId,
              sex: b.sex ?? 'unknown',
              birthYear: b.birthYear ?? null,
              diagnoses: b.diagnoses ?? [],
              mrnHash: mrnHash ?? null,
              lisPatientIdHash,
            });
            await recordAudit(tx, ctx, {
              action: 'upsertParticipant',
              entityType: 'participant',
              entityId: created.id,
              institutionId,
              after: created,
            });
            return { created: true, participant: toParticipantView(ctx, created) };
          }
          const patch: Partial<ParticipantRow> = differing(row, {
            sex: b.sex,
            birthYear: b.birthYear,
            protocolParticipantId: b.protocolParticipantId,
            mrnHash,
          });
          if (b.diagnoses !== undefined && !sameList(b.diagnoses, row.diagnoses))
            patch.diagnoses = b.diagnoses;
          const unchanged = Object.keys(patch).length === 0;
          if (
            expectedVersion !== undefined &&
            resolveVersion(expectedVersion, row.version) !== row.version &&
            !unchanged
          )
            throw versionConflict(`participant ${row.id}`, expectedVersion, row.version);
          if (unchanged) return { created: false, participant: toParticipantView(ctx, row) };
          const after = await updateParticipantRow(tx, row.id, row.version, patch);
          await recordAudit(tx, ctx, {
            action: 'upsertParticipant',
            entityType: 'participant',
            entityId: row.id,
            institutionId,
            before: row,
            after,
          });
          return { created: false, participant: toParticipantView(ctx, after!) };
        }),
      );
    },
  };
}
