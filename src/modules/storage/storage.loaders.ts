import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import { z } from 'zod';
import { distinct, parseArgs } from '../../graphql/adapter.js';
import { preload } from '../../graphql/batch.js';
import { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import type { ContainerDto } from './storage.schemas.js';
import { toContainerDto, toMapGridDto, type ContainerView } from './storage.dto.js';
import type { ContainerRow } from './storage.table.js';

// Container relations and views, batched per tick (STYLE.md rule 17).

type Queries<P = Record<string, unknown>> = { obj: ContainerDto; params: P }[];

/**
 * DTOs of the containers read (views of `getContainersByIds`), by id. A container is read with
 * its ancestors (for its path), so each DTO gets its parent's DTO preloaded: `Container.parent`
 * then costs no statement, however far up a query climbs.
 */
export function linkedContainerDtos(views: readonly ContainerView[]): Map<string, ContainerDto> {
  const dtos = new Map<string, ContainerDto>();
  const dtoOf = (row: ContainerRow, byId: Map<string, ContainerRow>): ContainerDto => {
    const known = dtos.get(row.id);
    if (known) return known;
    const dto = toContainerDto(row, byId);
    dtos.set(row.id, dto);
    const parent = row.parentId ? byId.get(row.parentId) : undefined;
    if (!row.parentId) preload(dto, 'parent', null);
    else if (parent) preload(dto, 'parent', dtoOf(parent, byId));
    return dto;
  };
  for (const v of views) dtoOf(v.container, v.byId);
  return dtos;
}

// The REST route declares the free-positions query inline; this is the same definition.
const freePositionsQuery = z.object({
  count: z.coerce.number().int().min(1).max(1000).default(1),
  type: z.enum(SPECIMEN_TYPES).optional(),
});

export const storageLoaders: MercuriusLoaders = {
  Container: {
    async parent(queries: Queries, { biobank, services }: MercuriusContext) {
      const ids = distinct(queries.map((q) => q.obj.parentId));
      if (ids.length === 0) return queries.map(() => null);
      const byId = linkedContainerDtos(await services.storage.getContainersByIds(biobank, ids));
      return queries.map((q) => (q.obj.parentId ? (byId.get(q.obj.parentId) ?? null) : null));
    },

    async map(queries: Queries, { biobank, services }: MercuriusContext) {
      // A container without a grid has no map: null, without asking.
      const ids = distinct(queries.filter((q) => q.obj.grid !== null).map((q) => q.obj.id));
      if (ids.length === 0) return queries.map(() => null);
      const maps = await services.storage.containerMaps(biobank, ids);
      const byId = new Map(
        ids.map((id, i) => {
          const m = maps[i];
          return [id, m ? toMapGridDto(m) : null];
        }),
      );
      return queries.map((q) => byId.get(q.obj.id) ?? null);
    },

    // A search over a subtree per container: one service call per distinct container and
    // arguments (a page rarely spans more than a few boxes); one refused argument fails only its
    // own field.
    async freePositions(queries: Queries<{ count?: unknown; type?: unknown }>, ctx: MercuriusContext) {
      return Promise.all(
        queries.map(async (q) => {
          try {
            return await ctx.services.storage.getFreePositions(
              ctx.biobank,
              q.obj.id,
              parseArgs(freePositionsQuery, q.params),
            );
          } catch (err) {
            return err instanceof Error ? err : new Error(String(err));
          }
        }),
      );
    },
  },
};
