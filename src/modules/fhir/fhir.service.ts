// The FHIR R4 Specimen interface: read, search and conditional update, over the specimen
// services. Writes go through registerSpecimen and updateSpecimen (so through the specimen
// ledger, with their audit actions); this service only maps, compares and finds.
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import {
  invalidCursor,
  isDomainError,
  validationFailed,
  versionConflict,
  type FieldProblem,
} from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../pagination.js';
import {
  registerSpecimenInput,
  specimenNotFound,
  updateSpecimenInput,
  type SpecimenRow,
  type SpecimenService,
  type SpecimenView,
  type UpdateSpecimenInput,
} from '../specimens/index.js';
import { elementFixed } from './fhir.errors.js';
import {
  fhirPathOf,
  specimenFromFhir,
  type IdentifierTarget,
  type SpecimenFromFhir,
} from './fhir-specimen.input.js';
import { searchSpecimenIds, type SpecimenSearchFilter } from './fhir-specimen-search.read-model.js';
import type { SpecimenSearchQuery } from './fhir.search.js';
import { ID_SYSTEM, fhirSystemOf } from './fhir.vocabulary.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

const UUID = z.uuid();
const idCursor = z.tuple([z.literal('id'), z.uuid()]);
const updatedCursor = z.tuple([z.literal('lu'), z.iso.datetime(), z.uuid()]);

/** How a write names its specimen: `PUT Specimen/{id}` or `PUT Specimen?identifier=system|value`. */
export type UpdateTarget = { id: string } | { identifier: IdentifierTarget };

export interface FhirUpdateInput {
  target: UpdateTarget;
  /** the request body, as parsed JSON */
  resource: unknown;
  /** from If-Match, when sent */
  expectedVersion?: ExpectedVersion;
}

const describe = (t: IdentifierTarget) =>
  t.kind === 'id'
    ? `${ID_SYSTEM.uri}|urn:uuid:${t.id}`
    : t.kind === 'barcode'
      ? `${ID_SYSTEM.barcode}|${t.barcode}`
      : `${fhirSystemOf(t.system)}|${t.value}`;

const iso = (d: Date | null) => d?.getTime() ?? null;
const sameTime = (sent: string, stored: Date | null) => new Date(sent).getTime() === iso(stored);

/**
 * The edit that brings a registered specimen to what a FHIR Specimen states: only elements it
 * states and that differ. External ids are added, never removed (a PUT from one system must not
 * drop the ids another gave the tube). Pure; an empty edit means nothing changes.
 */
export function editTowards(row: SpecimenRow, body: SpecimenFromFhir['body']): UpdateSpecimenInput {
  const edit: UpdateSpecimenInput = {};
  if (body.anatomicSite !== undefined && body.anatomicSite !== row.anatomicSite)
    edit.anatomicSite = body.anatomicSite;
  if (body.pathologyStatus !== undefined && body.pathologyStatus !== row.pathologyStatus)
    edit.pathologyStatus = body.pathologyStatus;
  for (const f of ['collectedAt', 'receivedAt', 'processedAt', 'frozenAt'] as const) {
    const sent = body[f];
    if (sent !== undefined && !sameTime(sent, row[f])) edit[f] = sent;
  }
  if (
    body.sprecCode !== undefined &&
    (body.sprecCode !== row.sprecCode || (body.sprecVersion ?? '3.0') !== row.sprecVersion)
  ) {
    edit.sprecCode = body.sprecCode;
    edit.sprecVersion = body.sprecVersion ?? '3.0';
  }
  const added = body.externalIds.filter(
    (e) => !row.externalIds.some((x) => x.system === e.system && x.value === e.value),
  );
  if (added.length) edit.externalIds = [...row.externalIds, ...added];
  return edit;
}

/** Elements fixed at registration that the resource states differently. Throws ELEMENT_FIXED. */
function assertFixedElements(row: SpecimenRow, sent: SpecimenFromFhir): void {
  const b = sent.body;
  const check = (element: string, value: string | undefined, current: string | null) => {
    if (value !== undefined && value !== current) throw elementFixed(element, value, current ?? 'none');
  };
  check('Specimen.identifier', b.barcode, row.barcode);
  check('Specimen.type', b.type, row.type);
  check(
    'Specimen.subject',
    b.participantId && `Patient/${b.participantId}`,
    row.participantId && `Patient/${row.participantId}`,
  );
  check(
    'Specimen.parent',
    sent.parentId && `Specimen/${sent.parentId}`,
    row.parentId && `Specimen/${row.parentId}`,
  );
  check('Specimen.collection.quantity', b.quantity?.toString(), row.initialQuantity.toString());
  check('Specimen.collection.quantity', b.unit, row.unit);
}

/** zod problems of a register or edit body, named by the FHIR element they come from. */
const asFhirProblems = (issues: z.core.$ZodIssue[]): FieldProblem[] =>
  issues.map((i) => ({ field: fhirPathOf(i.path.join('.')), message: i.message, code: i.code }));

export function createFhirService(deps: { db: Db; specimens: SpecimenService }) {
  const { db, specimens } = deps;

  async function find(ctx: Ctx, institutionId: string, target: UpdateTarget): Promise<SpecimenView | null> {
    if ('id' in target) {
      if (!UUID.safeParse(target.id).success) throw specimenNotFound(target.id);
      return (await specimens.getSpecimensByIds(ctx, [target.id]))[0] ?? null;
    }
    const t = target.identifier;
    const [hit] = await searchSpecimenIds(db, {
      institutionId,
      identifiers: {
        ids: t.kind === 'id' ? [t.id] : [],
        barcodes: t.kind === 'barcode' ? [t.barcode] : [],
        external: t.kind === 'external' ? [t] : [],
      },
      types: null,
      lastUpdated: [],
      order: 'id',
      after: null,
      limit: 1,
    });
    return hit ? ((await specimens.getSpecimensByIds(ctx, [hit.id]))[0] ?? null) : null;
  }

  async function create(ctx: Ctx, input: FhirUpdateInput, sent: SpecimenFromFhir): Promise<SpecimenView> {
    const target = input.target;
    if ('id' in target) throw specimenNotFound(target.id);
    if (target.identifier.kind === 'id') throw specimenNotFound(target.identifier.id);
    if (input.expectedVersion !== undefined)
      throw versionConflict(
        `the specimen with identifier ${describe(target.identifier)} (none yet)`,
        input.expectedVersion,
        0,
      );
    if (sent.resourceId !== undefined)
      throw validationFailed([
        {
          field: 'Specimen.id',
          message: `no specimen holds this identifier; a new specimen gets its id here`,
        },
      ]);
    if (sent.parentId)
      throw elementFixed(
        'Specimen.parent',
        `Specimen/${sent.parentId}`,
        'none (aliquots and derivatives are made here)',
      );
    const missing: FieldProblem[] = [];
    if (sent.body.barcode === undefined)
      missing.push({
        field: 'Specimen.identifier',
        message: `registering needs the tube barcode (system ${ID_SYSTEM.barcode})`,
      });
    if (sent.body.type === undefined)
      missing.push({ field: 'Specimen.type', message: 'registering needs the type' });
    if (sent.body.quantity === undefined)
      missing.push({
        field: 'Specimen.collection.quantity',
        message: 'registering needs the quantity collected',
      });
    if (missing.length) throw validationFailed(missing);
    const body = registerSpecimenInput.safeParse({
      ...sent.body,
      externalIds: sent.body.externalIds.length ? sent.body.externalIds : undefined,
    });
    if (!body.success) throw validationFailed(asFhirProblems(body.error.issues));
    return specimens.registerSpecimen(ctx, body.data);
  }

  async function update(ctx: Ctx, input: FhirUpdateInput, sent: SpecimenFromFhir, current: SpecimenView) {
    const row = current.row;
    if (
      input.expectedVersion !== undefined &&
      resolveVersion(input.expectedVersion, row.version) !== row.version
    )
      throw versionConflict(`specimen ${row.barcode}`, input.expectedVersion, row.version);
    if (sent.resourceId !== undefined && sent.resourceId !== row.id)
      throw validationFailed([
        { field: 'Specimen.id', message: `this names specimen ${row.id}, not ${sent.resourceId}` },
      ]);
    assertFixedElements(row, sent);
    const edit = updateSpecimenInput.safeParse(editTowards(row, sent.body));
    if (!edit.success) throw validationFailed(asFhirProblems(edit.error.issues));
    if (Object.keys(edit.data).length === 0) {
      // Nothing to change: no version, audit row or custody event, as for an identical resend.
      authorize(ctx.actor, 'specimens.update');
      return current;
    }
    return specimens.updateSpecimen(ctx, {
      id: row.id,
      expectedVersion: input.expectedVersion ?? row.version,
      patch: edit.data,
    });
  }

  return {
    /**
     * One specimen; with `version`, only while that is its current version (older versions are
     * not kept). Throws SPECIMEN_NOT_FOUND (also for another institution's), FORBIDDEN.
     */
    async readFhirSpecimen(ctx: Ctx, id: string, version?: string): Promise<SpecimenView> {
      authorize(ctx.actor, 'specimens.read');
      const [view] = UUID.safeParse(id).success ? await specimens.getSpecimensByIds(ctx, [id]) : [];
      if (!view || (version !== undefined && version !== String(view.row.version)))
        throw specimenNotFound(version === undefined ? id : `${id} version ${version}`);
      return view;
    },

    /** A keyset page of a Specimen search. Throws INVALID_CURSOR, FORBIDDEN. */
    async searchFhirSpecimens(
      ctx: Ctx,
      q: SpecimenSearchQuery,
    ): Promise<{ items: SpecimenView[]; nextCursor: string | null }> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const order = q.lastUpdated.length ? 'lastUpdated' : 'id';
      let after: SpecimenSearchFilter['after'] = null;
      if (q.cursor !== undefined) {
        const key = decodeCursor(q.cursor, z.union([idCursor, updatedCursor]));
        if ((key?.[0] === 'lu') !== (order === 'lastUpdated')) throw invalidCursor('_cursor');
        after = key?.[0] === 'lu' ? { updatedAt: key[1], id: key[2] } : { id: key![1] };
      }
      const ids = q.identifiers;
      const hits = await searchSpecimenIds(db, {
        institutionId,
        identifiers: ids && {
          ids: ids.flatMap((t) => (t.kind === 'id' ? [t.id] : [])),
          barcodes: ids.flatMap((t) => (t.kind === 'barcode' ? [t.barcode] : [])),
          external: ids.flatMap((t) => (t.kind === 'external' ? [{ system: t.system, value: t.value }] : [])),
        },
        types: q.types,
        lastUpdated: q.lastUpdated,
        order,
        after,
        limit: q.count + 1,
      });
      const page = hits.slice(0, q.count);
      const last = page.at(-1);
      const nextCursor =
        hits.length > q.count && last
          ? encodeCursor(order === 'lastUpdated' ? ['lu', last.updatedAt, last.id] : ['id', last.id])
          : null;
      const views = await specimens.getSpecimensByIds(
        ctx,
        page.map((h) => h.id),
      );
      const byId = new Map(views.map((v) => [v.row.id, v]));
      return { items: page.flatMap((h) => byId.get(h.id) ?? []), nextCursor };
    },

    /**
     * `PUT Specimen/{id}` and the conditional update `PUT Specimen?identifier=system|value`: the
     * specimen the target names is brought to what the resource states (registerSpecimen when
     * an identifier names none yet, updateSpecimen for what differs, nothing at all when nothing
     * does). A request that loses a race to another one writing the same specimen reads it again.
     * Throws VALIDATION_FAILED (a malformed resource, a missing element), ELEMENT_FIXED,
     * VERSION_CONFLICT (If-Match), SPECIMEN_NOT_FOUND, and what registerSpecimen and
     * updateSpecimen throw.
     */
    async updateFhirSpecimen(
      ctx: Ctx,
      input: FhirUpdateInput,
    ): Promise<{ view: SpecimenView; created: boolean }> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const sent = specimenFromFhir(
        input.resource,
        'identifier' in input.target ? input.target.identifier : undefined,
      );
      for (let attempt = 1; ; attempt++) {
        const current = await find(ctx, institutionId, input.target);
        try {
          if (!current) return { view: await create(ctx, input, sent), created: true };
          return { view: await update(ctx, input, sent, current), created: false };
        } catch (err) {
          const raced =
            attempt < 3 &&
            isDomainError(err) &&
            (current === null
              ? (err.code === 'EXTERNAL_ID_TAKEN' || err.code === 'BARCODE_TAKEN') &&
                (await find(ctx, institutionId, input.target)) !== null
              : err.code === 'VERSION_CONFLICT' && input.expectedVersion === undefined);
          if (!raced) throw err;
        }
      }
    },
  };
}

export type FhirService = ReturnType<typeof createFhirService>;
