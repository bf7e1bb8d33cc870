// Validation of an import, a chunk of rows at a time: each row is read with the zod schema of the
// body it stands for, its natural keys are resolved to records, and the rows that stay are checked
// by the same rules as the service that will apply them (a specimen by the registration's own
// checks, run without writing). A row whose record already exists as the row describes it (a
// re-import) is counted, not staged. What passes is staged with the ids it resolved to.
import type { Ctx } from '../../context.js';
import { actorInstitutionId } from '../../auth/roles.js';
import type { Tx } from '../../db/client.js';
import { findUnstorableText } from '../../db/storable-text.js';
import { immutableField, type DomainError, type FieldProblem } from '../../errors.js';
import {
  participantExists,
  participantNotFound,
  protocolNotFound,
  type HospitalIdHashes,
} from '../participants/index.js';
import { containerNotFound } from '../storage/index.js';
import {
  findExternalIdHolders,
  findSpecimensByIds,
  fixedFieldConflicts,
  registerValidWithin,
  type RegisterSpecimenInput,
  type SpecimenLedger,
  type UseGate,
} from '../specimens/index.js';
import {
  consentImportRow,
  participantImportRow,
  specimenRow,
  type ConsentImportRow,
  type ParticipantImportRow,
  type RowOutcome,
  type SpecimenImportRow,
} from './imports.columns.js';
import { duplicateKeyInFile, malformedRow } from './imports.errors.js';
import {
  containersByBarcode,
  participantsByKeys,
  protocolsByCode,
  type ProtocolRef,
} from './import-references.read-model.js';
import type { ParsedRecord } from './imports.parse.js';
import type { RowError } from './imports.repo.js';
import type { ImportKind } from './imports.table.js';

export interface StagedRow {
  rowNo: number;
  keys: string[];
  data: unknown;
}

export interface ChunkOutcome {
  errors: RowError[];
  staged: StagedRow[];
  existing: number;
}

export interface ValidateDeps {
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
  hashes: HospitalIdHashes;
}

/** A domain refusal as a row error on a column. */
const rowError = (rowNo: number, column: string, e: DomainError): RowError => ({
  rowNo,
  column,
  code: e.code,
  detail: e.message,
});

const fieldErrors = (rowNo: number, problems: FieldProblem[]): RowError[] =>
  problems.map((p) => ({
    rowNo,
    column: p.field,
    code: 'VALIDATION_FAILED',
    detail: `${p.field} ${p.message}`.trim(),
  }));

function unstorableColumn(fields: Record<string, unknown>): FieldProblem | undefined {
  for (const [column, value] of Object.entries(fields)) {
    const found = findUnstorableText(value, column);
    if (found) return found;
  }
  return undefined;
}

/** Reads each record with its kind's schema; malformed and invalid rows become errors. */
function readRows<T>(
  records: ParsedRecord[],
  read: (fields: Record<string, unknown>) => RowOutcome<T>,
  errors: RowError[],
): { rowNo: number; row: T }[] {
  const out: { rowNo: number; row: T }[] = [];
  for (const r of records) {
    if ('malformed' in r) {
      errors.push(rowError(r.rowNo, r.column ?? '', malformedRow(r.malformed)));
      continue;
    }
    // Text PostgreSQL cannot store (a NUL, a lone surrogate) is the row's error, never the file's 500.
    const unstorable = unstorableColumn(r.fields);
    if (unstorable) {
      errors.push(...fieldErrors(r.rowNo, [unstorable]));
      continue;
    }
    const o = read(r.fields);
    if (o.ok) out.push({ rowNo: r.rowNo, row: o.row });
    else errors.push(...fieldErrors(r.rowNo, o.problems));
  }
  return out;
}

async function protocolsOf(tx: Tx, institutionId: string, codes: (string | undefined)[]) {
  return protocolsByCode(tx, institutionId, [...new Set(codes.filter((c): c is string => !!c))]);
}

/** Resolves each row's participant (LIS patient id or participant code, within its protocol). */
async function participantIds(
  tx: Tx,
  deps: ValidateDeps,
  institutionId: string,
  rows: { protocol?: ProtocolRef; lisId?: string; code?: string }[],
): Promise<(string | undefined)[]> {
  const keys = rows.flatMap((r) =>
    r.protocol && (r.lisId || r.code)
      ? [
          {
            protocolId: r.protocol.id,
            ...(r.lisId ? { lisHash: deps.hashes.lisPatientId(institutionId, r.lisId) } : { code: r.code }),
          },
        ]
      : [],
  );
  const found = await participantsByKeys(tx, institutionId, keys);
  return rows.map((r) => {
    if (!r.protocol) return undefined;
    const hash = r.lisId ? deps.hashes.lisPatientId(institutionId, r.lisId) : undefined;
    return found.find(
      (p) => p.protocolId === r.protocol!.id && (hash ? p.lisHash === hash : p.code === r.code),
    )?.id;
  });
}

/** Where each of the registration's fields is in the file. */
function specimenColumn(field: string, row: SpecimenImportRow): string {
  if (field.startsWith('externalIds')) return 'externalIdValue';
  if (field === 'participantId') return row.participantLisId ? 'participantLisId' : 'participantCode';
  if (field === 'protocolId') return 'protocolCode';
  if (field === 'containerId') return 'containerBarcode';
  return field;
}

async function validateSpecimens(
  tx: Tx,
  ctx: Ctx,
  deps: ValidateDeps,
  records: ParsedRecord[],
): Promise<ChunkOutcome> {
  const institutionId = actorInstitutionId(ctx.actor);
  const errors: RowError[] = [];
  const rows = readRows(records, specimenRow, errors);
  // A re-import: the external id is already this barcode's. Such a row is counted, not staged,
  // once it is read to say what the tube was registered with (below).
  const holders = await findExternalIdHolders(
    tx,
    institutionId,
    rows.map((r) => r.row.body.externalIds![0]!),
  );
  const heldBy = new Map(holders.map((h) => [`${h.system}\n${h.value}`, h]));
  const holderOf = (row: SpecimenImportRow) => {
    const e = row.body.externalIds![0]!;
    const h = heldBy.get(`${e.system}\n${e.value}`);
    return h && h.barcode === row.body.barcode ? h.specimenId : undefined;
  };
  const held: { rowNo: number; row: SpecimenImportRow; input: RegisterSpecimenInput; specimenId: string }[] =
    [];
  const protocols = await protocolsOf(
    tx,
    institutionId,
    rows.map((r) => r.row.protocolCode),
  );
  const containers = await containersByBarcode(tx, institutionId, [
    ...new Set(rows.map((r) => r.row.containerBarcode).filter((b): b is string => !!b)),
  ]);
  const participants = await participantIds(
    tx,
    deps,
    institutionId,
    rows.map((r) => ({
      protocol: r.row.protocolCode ? protocols.get(r.row.protocolCode) : undefined,
      lisId: r.row.participantLisId,
      code: r.row.participantCode,
    })),
  );
  const resolved: { rowNo: number; row: SpecimenImportRow; input: RegisterSpecimenInput }[] = [];
  rows.forEach(({ rowNo, row }, i) => {
    const protocol = row.protocolCode ? protocols.get(row.protocolCode) : undefined;
    if (row.protocolCode && !protocol)
      return errors.push(rowError(rowNo, 'protocolCode', protocolNotFound(row.protocolCode, 'protocolCode')));
    const specimenId = holderOf(row);
    if (specimenId) {
      // The tube may have moved since: its place is not compared, only what registration fixed.
      const input = { ...row.body, protocolId: protocol?.id, participantId: participants[i] };
      return held.push({ rowNo, row, input, specimenId });
    }
    const containerId = row.containerBarcode ? containers.get(row.containerBarcode) : undefined;
    if (row.containerBarcode && !containerId)
      return errors.push(
        rowError(rowNo, 'containerBarcode', containerNotFound(row.containerBarcode, 'containerBarcode')),
      );
    const participantId = participants[i];
    const who = row.participantLisId ?? row.participantCode;
    if (who && !participantId) {
      const column = row.participantLisId ? 'participantLisId' : 'participantCode';
      return errors.push(rowError(rowNo, column, participantNotFound(who, column, 'reference')));
    }
    resolved.push({
      rowNo,
      row,
      input: { ...row.body, protocolId: protocol?.id, participantId, containerId },
    });
  });
  // A re-import says what the tube was registered with, or it is another tube under that id.
  const stored = new Map(
    (
      await findSpecimensByIds(
        tx,
        institutionId,
        held.map((h) => h.specimenId),
      )
    ).map((s) => [s.id, s]),
  );
  let existing = 0;
  for (const h of held) {
    const conflicts = fixedFieldConflicts(stored.get(h.specimenId)!, h.input);
    if (conflicts.length === 0) existing++;
    else
      errors.push(
        rowError(
          h.rowNo,
          specimenColumn(conflicts[0]!.field, h.row),
          immutableField(`specimen ${h.row.body.barcode}`, conflicts),
        ),
      );
  }
  // Rows naming the record an earlier row of the chunk names (across chunks: duplicateKeys).
  const keysOf = (input: RegisterSpecimenInput) => {
    const ext = input.externalIds![0]!;
    const keys = [`externalIdValue\n${ext.system}\n${ext.value}`, `barcode\n${input.barcode}`];
    if (input.containerId && input.position)
      keys.push(`position\n${input.containerId}\n${input.position.toUpperCase()}`);
    return keys;
  };
  const firstRow = new Map<string, number>();
  const unique = resolved.filter((r) => {
    const keys = keysOf(r.input);
    const taken = keys.find((k) => firstRow.has(k));
    if (taken) {
      const { column, error } = duplicateKeyInFile(taken, firstRow.get(taken)!);
      errors.push(rowError(r.rowNo, column, error));
      return false;
    }
    for (const k of keys) firstRow.set(k, r.rowNo);
    return true;
  });
  // The registration's own checks (barcodes, external ids, times, positions, types), not written.
  const checked = await registerValidWithin(
    deps,
    tx,
    ctx,
    unique.map((r) => r.input),
    { action: 'importSpecimens', dryRun: true },
  );
  const staged: StagedRow[] = [];
  unique.forEach((r, i) => {
    const e = checked.errors.get(i);
    if (e) {
      const field = e.errors[0]?.field ?? '';
      errors.push(rowError(r.rowNo, specimenColumn(field, r.row), e));
      return;
    }
    staged.push({ rowNo: r.rowNo, keys: keysOf(r.input), data: r.input });
  });
  return { errors, staged, existing };
}

async function validateParticipants(
  tx: Tx,
  ctx: Ctx,
  deps: ValidateDeps,
  records: ParsedRecord[],
): Promise<ChunkOutcome> {
  const institutionId = actorInstitutionId(ctx.actor);
  const errors: RowError[] = [];
  const rows = readRows<ParticipantImportRow>(records, participantImportRow, errors);
  const protocols = await protocolsOf(
    tx,
    institutionId,
    rows.map((r) => r.row.protocolCode),
  );
  const known = rows.flatMap(({ row }) => {
    const protocol = protocols.get(row.protocolCode);
    return protocol
      ? [
          {
            protocolId: protocol.id,
            lisHash: deps.hashes.lisPatientId(institutionId, row.body.lisPatientId),
            code: row.body.protocolParticipantId,
          },
        ]
      : [];
  });
  const found = await participantsByKeys(tx, institutionId, known);
  const staged: StagedRow[] = [];
  for (const { rowNo, row } of rows) {
    const protocol = protocols.get(row.protocolCode);
    if (!protocol) {
      errors.push(rowError(rowNo, 'protocolCode', protocolNotFound(row.protocolCode, 'protocolCode')));
      continue;
    }
    const lisHash = deps.hashes.lisPatientId(institutionId, row.body.lisPatientId);
    // The participant code is another donor's (one with another LIS patient id).
    const other = found.find(
      (p) =>
        p.protocolId === protocol.id && p.code === row.body.protocolParticipantId && p.lisHash !== lisHash,
    );
    if (other) {
      errors.push(rowError(rowNo, 'participantCode', participantExists(row.body.protocolParticipantId)));
      continue;
    }
    staged.push({
      rowNo,
      keys: [
        `lisPatientId\n${protocol.id}\n${lisHash}`,
        `participantCode\n${protocol.id}\n${row.body.protocolParticipantId}`,
      ],
      data: { protocolCode: row.protocolCode, body: row.body },
    });
  }
  return { errors, staged, existing: 0 };
}

async function validateConsents(
  tx: Tx,
  ctx: Ctx,
  deps: ValidateDeps,
  records: ParsedRecord[],
): Promise<ChunkOutcome> {
  const institutionId = actorInstitutionId(ctx.actor);
  const errors: RowError[] = [];
  const rows = readRows<ConsentImportRow>(records, consentImportRow, errors);
  const protocols = await protocolsOf(
    tx,
    institutionId,
    rows.map((r) => r.row.protocolCode),
  );
  const participants = await participantIds(
    tx,
    deps,
    institutionId,
    rows.map((r) => ({
      protocol: protocols.get(r.row.protocolCode),
      lisId: r.row.participantLisId,
      code: r.row.participantCode,
    })),
  );
  const today = deps.clock().toISOString().slice(0, 10);
  const staged: StagedRow[] = [];
  rows.forEach(({ rowNo, row }, i) => {
    const protocol = protocols.get(row.protocolCode);
    if (!protocol)
      return errors.push(rowError(rowNo, 'protocolCode', protocolNotFound(row.protocolCode, 'protocolCode')));
    const participantId = participants[i];
    if (!participantId) {
      const column = row.participantLisId ? 'participantLisId' : 'participantCode';
      const who = (row.participantLisId ?? row.participantCode)!;
      return errors.push(rowError(rowNo, column, participantNotFound(who, column)));
    }
    const extra = Object.keys(row.body.responses).filter((t) => !protocol.consentTiers.includes(t));
    if (extra.length)
      return errors.push({
        rowNo,
        column: 'responses',
        code: 'TIER_NOT_IN_PROTOCOL',
        detail: `${extra.join(', ')} not asked by protocol ${row.protocolCode} (${protocol.consentTiers.join(', ') || 'no tiers'})`,
      });
    if (row.body.signedOn > today)
      return errors.push({
        rowNo,
        column: 'signedOn',
        code: 'SIGNED_DATE_IN_FUTURE',
        detail: `signedOn ${row.body.signedOn} is after today (${today})`,
      });
    staged.push({
      rowNo,
      // The document version last: a repeat is named by it.
      keys: [`documentVersion\n${participantId}\n${row.body.signedOn}\n${row.body.documentVersion}`],
      data: { participantId, body: row.body },
    });
  });
  return { errors, staged, existing: 0 };
}

export function validateChunk(
  kind: ImportKind,
  tx: Tx,
  ctx: Ctx,
  deps: ValidateDeps,
  records: ParsedRecord[],
): Promise<ChunkOutcome> {
  if (kind === 'specimens') return validateSpecimens(tx, ctx, deps, records);
  if (kind === 'participants') return validateParticipants(tx, ctx, deps, records);
  return validateConsents(tx, ctx, deps, records);
}
