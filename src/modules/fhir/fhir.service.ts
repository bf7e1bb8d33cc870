// The FHIR R4 Specimen interface: read, search and conditional update, over the specimen
// services. Writes go through upsertSpecimen, the upsert the REST PUT by external id and the
// GraphQL mutation call too (so the same rules, ledger commands and audit action); this service
// only maps and finds.
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { invalidCursor, validationFailed } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../pagination.js';
import {
  specimenNotFound,
  type SpecimenService,
  type SpecimenUpsertKey,
  type SpecimenView,
} from '../specimens/index.js';
import { specimenFromFhir, type IdentifierTarget } from './fhir-specimen.input.js';
import {
  countSpecimens,
  searchSpecimenIds,
  searchSpecimenIdsWithTotal,
  type SpecimenSearchFilter,
} from './fhir-specimen-search.read-model.js';
import type { SpecimenSearchQuery } from './fhir.search.js';
import type { ExpectedVersion } from '../../versions.js';

const UUID = z.uuid();
const idCursor = z.tuple([z.literal('id'), z.uuid()]);
// Years 0001 to 9999, as PostgreSQL reads an ISO text (a year 0000 cursor is an edited one).
const updatedCursor = z.tuple([
  z.literal('lu'),
  z.iso.datetime().refine((at) => !at.startsWith('0000')),
  z.uuid(),
]);

/** How a write names its specimen: `PUT Specimen/{id}` or `PUT Specimen?identifier=system|value`. */
export type UpdateTarget = { id: string } | { identifier: IdentifierTarget };

export interface FhirUpdateInput {
  target: UpdateTarget;
  /** the request body, as parsed JSON */
  resource: unknown;
  /** from If-Match, when sent */
  expectedVersion?: ExpectedVersion;
}

/** The shared upsert's key for what the request names (a conditional update, or the id of the URL). */
const keyOf = (target: UpdateTarget): SpecimenUpsertKey =>
  'id' in target
    ? { kind: 'id', id: target.id }
    : target.identifier.kind === 'id'
      ? { kind: 'id', id: target.identifier.id }
      : target.identifier;

const lowerIfUuid = (id: string) => (UUID.safeParse(id.toLowerCase()).success ? id.toLowerCase() : id);

export function createFhirService(deps: { db: Db; specimens: SpecimenService }) {
  const { db, specimens } = deps;

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

    /**
     * A keyset page of a Specimen search, with the number of matches over every page when the
     * query asks for it (`total`); a query for the count alone reads no page. Throws
     * INVALID_CURSOR, FORBIDDEN.
     */
    async searchFhirSpecimens(
      ctx: Ctx,
      q: SpecimenSearchQuery,
    ): Promise<{ items: SpecimenView[]; nextCursor: string | null; total?: number }> {
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
      const filter = {
        institutionId,
        identifiers: ids && {
          ids: ids.flatMap((t) => (t.kind === 'id' ? [t.id] : [])),
          barcodes: ids.flatMap((t) => (t.kind === 'barcode' ? [t.barcode] : [])),
          external: ids.flatMap((t) => (t.kind === 'external' ? [{ system: t.system, value: t.value }] : [])),
        },
        types: q.types,
        lastUpdated: q.lastUpdated,
        order,
      } as const;
      if (q.answer === 'count')
        return { items: [], nextCursor: null, total: await countSpecimens(db, filter) };
      const paging = { ...filter, after, limit: q.count + 1 };
      const { hits, total } =
        q.answer === 'page+total'
          ? await searchSpecimenIdsWithTotal(db, paging)
          : { hits: await searchSpecimenIds(db, paging), total: undefined };
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
      const items = page.flatMap((h) => byId.get(h.id) ?? []);
      return { items, nextCursor, ...(total !== undefined ? { total } : {}) };
    },

    /**
     * `PUT Specimen/{id}` and the conditional update `PUT Specimen?identifier=system|value`: the
     * resource is read as a statement and handed to upsertSpecimen, the one upsert every surface
     * shares (created when an identifier names no specimen yet, never by id; what differs is
     * updated; nothing at all when nothing does). Throws VALIDATION_FAILED (a malformed resource,
     * a missing element, an id that is not the URL's), and what upsertSpecimen throws
     * (IMMUTABLE_FIELD, VERSION_CONFLICT, NO_CURRENT_VERSION, SPECIMEN_NOT_FOUND, ...).
     */
    async updateFhirSpecimen(
      ctx: Ctx,
      input: FhirUpdateInput,
    ): Promise<{ view: SpecimenView; created: boolean }> {
      // A refusal names what the caller may not do: write specimens (the upsert checks the rest).
      authorize(ctx.actor, 'specimens.update');
      // A UUID is one id however it is cased (a read by the upper-case id finds the specimen too).
      const target =
        'id' in input.target ? { ...input.target, id: lowerIfUuid(input.target.id) } : input.target;
      const parsed = specimenFromFhir(input.resource, 'identifier' in target ? target.identifier : undefined);
      const sent =
        parsed.resourceId === undefined ? parsed : { ...parsed, resourceId: lowerIfUuid(parsed.resourceId) };
      // FHIR R4 update: the resource carries the URL's id (http.html#update: 400 otherwise).
      if ('id' in target && sent.resourceId === undefined)
        throw validationFailed([
          {
            field: 'Specimen.id',
            message: `required: an update of Specimen/${target.id} must carry "id": "${target.id}"`,
          },
        ]);
      if ('id' in target && sent.resourceId !== undefined && sent.resourceId !== target.id)
        throw validationFailed([
          { field: 'Specimen.id', message: `the URL names specimen ${target.id}, not ${sent.resourceId}` },
        ]);
      const u = await specimens.upsertSpecimen(ctx, {
        key: keyOf(target),
        body: {
          ...sent.body,
          ...(sent.resourceId !== undefined ? { id: sent.resourceId } : {}),
          ...(sent.parentId !== undefined ? { parentId: sent.parentId } : {}),
        },
        ...(input.expectedVersion !== undefined ? { expectedVersion: input.expectedVersion } : {}),
      });
      return { view: u.specimen, created: u.created };
    },
  };
}

export type FhirService = ReturnType<typeof createFhirService>;
