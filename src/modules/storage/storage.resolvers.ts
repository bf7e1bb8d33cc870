import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs } from '../../graphql/adapter.js';
import {
  createContainerInput,
  listContainersQuery,
  moveContainerInput,
  rackScanInput,
  updateContainerInput,
} from './storage.schemas.js';
import { containerViewDto } from './storage.dto.js';

// GraphQL adapter over the storage service: REST schemas in, one service call, the REST DTO out.
// Container.parent, .map and .freePositions resolve in storage.loaders.ts.

const idArgs = z.object({ id: z.uuid() });

export const storageResolvers: IResolvers = {
  Query: {
    async container(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const view = await nullIfNotFound('CONTAINER_NOT_FOUND', () =>
        services.storage.getContainer(biobank, id),
      );
      return view && containerViewDto(view);
    },
    async containers(_root, args: unknown, { biobank, services }) {
      return (await services.storage.listContainers(biobank, parseArgs(listContainersQuery, args))).map(
        containerViewDto,
      );
    },
  },
  Mutation: {
    async createContainer(_root, args: { input: unknown }, { biobank, services }) {
      return containerViewDto(
        await services.storage.createContainer(biobank, parseArgs(createContainerInput, args.input)),
      );
    },
    async updateContainer(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = z
        .object({ id: z.uuid(), expectedVersion: z.number().int().min(0) })
        .parse({ id: args.id, expectedVersion: args.expectedVersion });
      const patch = parseArgs(updateContainerInput, args.input);
      return containerViewDto(
        await services.storage.updateContainer(biobank, { id, expectedVersion, patch }),
      );
    },
    async moveContainer(_root, args: { id: unknown; input: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      return containerViewDto(
        await services.storage.moveContainer(biobank, id, parseArgs(moveContainerInput, args.input)),
      );
    },
    async rackScan(
      _root,
      args: { id: unknown; input: { readings?: { barcode?: unknown }[] | null } | null },
      { biobank, services },
    ) {
      const { id } = idArgs.parse({ id: args.id });
      // An empty position may be sent without a barcode at all: GraphQL does not tell it from null.
      const readings = args.input?.readings?.map((r) => ({ ...r, barcode: r.barcode ?? null }));
      const input = parseArgs(rackScanInput, { ...args.input, ...(readings ? { readings } : {}) });
      return services.storage.rackScan(biobank, id, input);
    },
  },
};
