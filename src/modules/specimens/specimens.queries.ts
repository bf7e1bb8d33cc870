// Reading specimens: one, many, a filtered page, the scan lookup, children, custody chains.
import type pg from 'pg';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, can } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { listCustodyEvents, verifyChain, type CustodyEventRow } from '../custody/index.js';
import { chainPath, positionLabel, type LocationChainEntry } from '../storage/index.js';
import { latestCustodyEventDtos } from './latest-custody.read-model.js';
import {
  readSpecimenPage,
  type PageLocationSource,
  type SpecimenPageNode,
} from './specimen-page.read-model.js';
import { specimenPageShape, type FieldSelection } from './specimen-page.shape.js';
import { createScanLookup } from './scan-lookup.read-model.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import { specimenNotFound } from './specimens.errors.js';
import { findSpecimen, findSpecimensByIds, listSpecimenRows, type SpecimenFilter } from './specimens.repo.js';
import type { SpecimenDto, SpecimenListQuery } from './specimens.schemas.js';
import { specimens } from './specimens.table.js';
import type { CustodyLinkReader } from './specimens.custody-link.js';
import type { UseGate } from './specimens.use-gate.js';

/** A specimen of the GraphQL page: its selected fields, with the DTO's location when selected. */
export type SpecimenPageItem = SpecimenPageNode<NonNullable<SpecimenDto['location']>>;

/** Which relations each item of the GraphQL page carries, read with it (null where it has none). */
export interface SpecimenPageInRow {
  container: boolean;
  /** the container's parent, in the container */
  containerParent: boolean;
  latestCustodyEvent: boolean;
}

/** A list query as the repo's filter; the page asks one row more to know whether another follows. */
function listFilter(institutionId: string, q: SpecimenListQuery): SpecimenFilter {
  return {
    institutionId,
    type: q.type,
    status: q.status,
    protocolId: q.protocolId,
    participantId: q.participantId,
    subtreeContainerIds: q.containerId
      ? sql`select c.id from container c where c.institution_id = ${institutionId} and (c.id = ${q.containerId} or c.ancestor_ids @> array[${q.containerId}::uuid])`
      : undefined,
    collectedFrom: q.collectedFrom ? new Date(q.collectedFrom) : undefined,
    collectedTo: q.collectedTo ? new Date(q.collectedTo) : undefined,
    qcStatus: q.qcStatus,
    held: q.held === undefined ? undefined : q.held === 'true',
    afterId: decodeCursor(q.cursor, z.uuid()),
    limit: q.limit + 1,
  };
}

/** A tube's location in its holder, from the holder's location chain (itself last) and path. */
function locationIn(
  chain: readonly LocationChainEntry[],
  path: string,
  row: number | null,
  col: number | null,
): SpecimenDto['location'] {
  const c = chain.at(-1);
  if (!c) return null;
  const label =
    c.gridScheme && c.gridRows && c.gridCols && row !== null && col !== null
      ? positionLabel(c.gridScheme, c.gridRows, c.gridCols, row, col)
      : null;
  return {
    containerId: c.id,
    containerBarcode: c.barcode,
    position: label,
    path: label ? `${path} / ${label}` : path,
  };
}

export function createSpecimenQueries(deps: {
  db: Db;
  pool: pg.Pool;
  useGate: UseGate;
  custodyLinks?: CustodyLinkReader;
}) {
  const { db, useGate } = deps;
  const scanLookup = createScanLookup(deps.pool);

  return {
    /** Throws SPECIMEN_NOT_FOUND (also for another institution's specimen). */
    async getSpecimen(ctx: Ctx, id: string): Promise<SpecimenView> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const row = await findSpecimen(db, institutionId, id);
      if (!row) throw specimenNotFound(id);
      return (await specimenViews(db, institutionId, [row]))[0]!;
    },

    /**
     * Scan lookup by barcode: the specimen as `toSpecimenDto` writes it, its location and the uses
     * the donor's consent allows now (empty while on hold), as the UTF-8 bytes of its JSON
     * (`ScanDto`), with its version (the ETag). Serialized once, by PostgreSQL and here, because
     * it is the hottest call; GraphQL parses it. Throws SPECIMEN_NOT_FOUND.
     */
    async scanSpecimen(ctx: Ctx, barcode: string): Promise<{ json: Buffer; version: number }> {
      authorize(ctx.actor, 'specimens.read');
      const found = await scanLookup(actorInstitutionId(ctx.actor), barcode);
      if (!found) throw specimenNotFound(barcode, 'barcode');
      const f = found.facts;
      const uses = useGate.usesNow(f);
      let location: SpecimenDto['location'] = null;
      if (found.holder) {
        const { container: c, path } = found.holder;
        const label =
          c.gridScheme && c.gridRows && c.gridCols && f.positionRow && f.positionCol
            ? positionLabel(c.gridScheme, c.gridRows, c.gridCols, f.positionRow, f.positionCol)
            : null;
        location = {
          containerId: c.id,
          containerBarcode: c.barcode,
          position: label,
          path: label ? `${path} / ${label}` : path,
        };
      }
      // The specimen's JSON object, closed by PostgreSQL, gets two more members, straight into the
      // UTF-8 bytes that are sent: one copy of the specimen's text, and only the short tail encoded.
      const head = found.specimenJson;
      const tail = `,"location":${JSON.stringify(location)},"permittedUses":${JSON.stringify(uses)}}`;
      const headBytes = Buffer.byteLength(head) - 1; // without its closing brace
      const body = Buffer.allocUnsafe(headBytes + Buffer.byteLength(tail));
      body.write(head, 0, headBytes);
      body.write(tail, headBytes);
      return { json: body, version: f.version };
    },

    async getSpecimensByIds(ctx: Ctx, ids: readonly string[]): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      return specimenViews(db, institutionId, await findSpecimensByIds(db, institutionId, ids));
    },

    /** Filtered keyset-paginated list. Throws INVALID_CURSOR, CONTAINER_NOT_FOUND. */
    async listSpecimens(ctx: Ctx, q: SpecimenListQuery): Promise<Page<SpecimenView>> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await listSpecimenRows(db, listFilter(institutionId, q));
      const page = toPage(
        rows,
        q.limit,
        (r) => r.id,
        (r) => r,
      );
      return { items: await specimenViews(db, institutionId, page.items), nextCursor: page.nextCursor };
    },

    /**
     * The same page as listSpecimens for a query that selects `selection` of each specimen, in
     * one statement: only the selected fields are read, the location comes from its holder's
     * location chain, and the container (with its parent) and the latest custody event come in
     * each item when every field asked of them is read in SQL and the actor may read them
     * (`inRow` says which). The GraphQL page (issue 16). Throws INVALID_CURSOR, FORBIDDEN.
     */
    async listSpecimenPage(
      ctx: Ctx,
      q: SpecimenListQuery,
      selection: FieldSelection,
    ): Promise<Page<SpecimenPageItem> & { inRow: SpecimenPageInRow }> {
      authorize(ctx.actor, 'specimens.read');
      // Without the right, a relation is not read here; its own loader then refuses it alone.
      const shape = specimenPageShape(selection, {
        readStorage: can(ctx.actor, 'storage.read'),
        readCustody: can(ctx.actor, 'custody.read'),
      });
      const nodes = await readSpecimenPage(deps.pool, listFilter(actorInstitutionId(ctx.actor), q), shape);
      const page = toPage(
        nodes,
        q.limit,
        (n) => n.id,
        (n): SpecimenPageNode<unknown> => n,
      );
      if (shape.location) {
        // A box's tubes share its chain: its path is joined once.
        const paths = new Map<string, string>();
        for (const n of page.items) {
          const source = n.location as PageLocationSource | null | undefined;
          const holder = source?.chain.at(-1);
          if (!source || !holder) {
            n.location = null;
            continue;
          }
          let path = paths.get(holder.id);
          if (path === undefined) paths.set(holder.id, (path = chainPath(source.chain)));
          n.location = locationIn(source.chain, path, source.row, source.col);
        }
      }
      return {
        items: page.items as SpecimenPageItem[],
        nextCursor: page.nextCursor,
        inRow: {
          container: shape.container !== null,
          containerParent: shape.container?.parent != null,
          latestCustodyEvent: shape.latestCustodyEvent !== null,
        },
      };
    },

    /** Direct children of the given specimens (aliquots, derivatives), oldest first: one query plus one for locations. */
    async childrenOf(ctx: Ctx, parentIds: readonly string[]): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      if (parentIds.length === 0) return [];
      const rows = await db
        .select()
        .from(specimens)
        .where(
          and(
            eq(specimens.institutionId, institutionId),
            sql`${specimens.parentId} in (${sql.join(
              parentIds.map((i) => sql`${i}::uuid`),
              sql`, `,
            )})`,
          ),
        )
        .orderBy(specimens.id);
      return specimenViews(db, institutionId, rows);
    },

    /**
     * The custody chain, oldest first: a keyset page by `seq` when `limit` is given, the whole
     * chain otherwise. Throws SPECIMEN_NOT_FOUND, INVALID_CURSOR.
     */
    async getCustody(
      ctx: Ctx,
      id: string,
      page: { cursor?: string; limit?: number } = {},
    ): Promise<Page<CustodyEventRow>> {
      authorize(ctx.actor, 'custody.read');
      const afterSeq = decodeCursor(page.cursor, z.number().int().min(0));
      const row = await findSpecimen(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw specimenNotFound(id);
      if (page.limit === undefined)
        return { items: await listCustodyEvents(db, id, { afterSeq }), nextCursor: null };
      const rows = await listCustodyEvents(db, id, { afterSeq, limit: page.limit + 1 });
      return toPage(
        rows,
        page.limit,
        (e) => e.seq,
        (e) => e,
      );
    },

    /**
     * Recomputes the chain; reports the first break and, for a tube received from another
     * institution, the link to the provider's `shipped` event. Throws SPECIMEN_NOT_FOUND.
     */
    async verifyCustody(ctx: Ctx, id: string) {
      authorize(ctx.actor, 'custody.read');
      const row = await findSpecimen(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw specimenNotFound(id);
      const events = await listCustodyEvents(db, id);
      const result = verifyChain(events);
      const headMatches = result.firstBreak !== null || (events.at(-1)?.hash ?? null) === row.custodyHead;
      const first = events[0];
      const link =
        first?.type === 'received_from_institution' && deps.custodyLinks
          ? await deps.custodyLinks.linkOf(db, row, first)
          : null;
      return {
        specimenId: id,
        link,
        events: events.length,
        valid: result.firstBreak === null && headMatches && events.length === row.custodySeq,
        checked: result.checked,
        firstBreak:
          result.firstBreak ??
          (headMatches && events.length === row.custodySeq
            ? null
            : {
                seq: events.length,
                eventId: events.at(-1)?.id ?? 0,
                reason: 'head_mismatch' as const,
                expected: row.custodyHead ?? '',
                found: events.at(-1)?.hash ?? '',
              }),
      };
    },

    /** The latest custody event of each given specimen, as DTOs by specimen id (the GraphQL page). */
    async latestCustodyEventDtos(ctx: Ctx, specimenIds: readonly string[]) {
      authorize(ctx.actor, 'custody.read');
      return latestCustodyEventDtos(deps.pool, actorInstitutionId(ctx.actor), specimenIds);
    },
  };
}
