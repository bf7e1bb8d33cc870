import type { IResolvers, MercuriusContext } from 'mercurius';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { nullIfNotFound, parseArgs, selectionTree, toConnection } from '../../graphql/adapter.js';
import { preload } from '../../graphql/batch.js';
import { scansInput } from './specimens.scans.js';
import {
  aliquotInput,
  barcode,
  checkInInput,
  checkOutInput,
  consumeInput,
  derivativeInput,
  holdInput,
  identifierSystem,
  identifierValue,
  markFoundInput,
  placementInput,
  plainActionInput,
  receiveInput,
  registerSpecimenInput,
  registerSpecimensInput,
  specimenListQuery,
  updateSpecimenInput,
} from './specimens.schemas.js';
import type { ScanDto } from './specimens.routes.js';
import { toCustodyEventDto, toSpecimenDto, type SpecimenView } from './specimens.dto.js';
import type { SpecimenService } from './specimens.service.js';

// GraphQL adapter over the specimen service (STYLE.md rules 2 and 16): the REST zod schemas
// validate the arguments, each field calls one service method, and a Specimen is the REST DTO,
// so both transports answer the same data. Relations resolve in specimens.loaders.ts.

const idArgs = z.object({ id: z.uuid() });
const specimenIdArgs = z.object({ specimenId: z.uuid() });
const versionedArgs = z.object({ id: z.uuid(), expectedVersion: z.number().int().min(0) });
const upsertArgs = z.object({
  system: identifierSystem,
  value: identifierValue,
  expectedVersion: z.number().int().min(0).optional(),
});

type ActionArgs = { id: unknown; input?: unknown };

/** A lifecycle action: `(id, input)` in, the specimen after the action out. */
function action<S extends z.ZodType>(
  schema: S,
  run: (specimens: SpecimenService, ctx: Ctx, id: string, input: z.output<S>) => Promise<SpecimenView>,
) {
  return async (_root: unknown, args: ActionArgs, { biobank, services }: MercuriusContext) => {
    const { id } = idArgs.parse({ id: args.id });
    return toSpecimenDto(await run(services.specimens, biobank, id, parseArgs(schema, args.input)));
  };
}

const split = (r: { parent: SpecimenView; children: SpecimenView[] }) => ({
  parent: toSpecimenDto(r.parent),
  children: r.children.map(toSpecimenDto),
});

export const specimenResolvers: IResolvers = {
  Query: {
    async specimens(
      _root,
      args: { filter?: Record<string, unknown> | null; first?: number | null; after?: string | null },
      { biobank, services },
      info,
    ) {
      const { held, ...filter } = args.filter ?? {};
      const query = parseArgs(specimenListQuery, {
        ...filter,
        held: typeof held === 'boolean' ? String(held) : held,
        cursor: args.after,
        limit: args.first,
      });
      // Only the selected fields are built; the container and latest event come with the rows.
      const page = await services.specimens.listSpecimenPage(
        biobank,
        query,
        selectionTree(info, ['edges', 'node']),
      );
      const { container, containerParent, latestCustodyEvent } = page.inRow;
      return toConnection(page, (node) => {
        if (container) {
          const c = node.container ?? null;
          preload(node, 'container', c);
          if (c && containerParent) preload(c, 'parent', c.parent ?? null);
        }
        if (latestCustodyEvent) preload(node, 'latestCustodyEvent', node.latestCustodyEvent ?? null);
        return node;
      });
    },
    async specimen(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const view = await nullIfNotFound('SPECIMEN_NOT_FOUND', () =>
        services.specimens.getSpecimen(biobank, id),
      );
      return view && toSpecimenDto(view);
    },
    async specimenByBarcode(_root, args: unknown, { biobank, services }) {
      const { barcode: code } = z.object({ barcode }).parse(args);
      const scan = await nullIfNotFound('SPECIMEN_NOT_FOUND', () =>
        services.specimens.scanSpecimen(biobank, code),
      );
      return scan && (JSON.parse(scan.json.toString('utf8')) as ScanDto);
    },
    async lineage(_root, args: unknown, { biobank, services }) {
      const l = await services.specimens.getLineage(biobank, idArgs.parse(args).id);
      return {
        specimen: toSpecimenDto(l.specimen),
        ancestors: l.ancestors.map(toSpecimenDto),
        descendants: l.descendants.map(toSpecimenDto),
      };
    },
    async custody(_root, args: unknown, { biobank, services }) {
      const chain = await services.specimens.getCustody(biobank, specimenIdArgs.parse(args).specimenId);
      return chain.items.map(toCustodyEventDto);
    },
    async verifyCustody(_root, args: unknown, { biobank, services }) {
      return services.specimens.verifyCustody(biobank, specimenIdArgs.parse(args).specimenId);
    },
  },
  Mutation: {
    async registerSpecimen(_root, args: { input: unknown }, { biobank, services }) {
      const input = parseArgs(registerSpecimenInput, args.input);
      return toSpecimenDto(await services.specimens.registerSpecimen(biobank, input));
    },
    async upsertSpecimen(
      _root,
      args: { system: unknown; value: unknown; input: unknown; expectedVersion?: unknown },
      { biobank, services },
    ) {
      const { system, value, expectedVersion } = parseArgs(upsertArgs, {
        system: args.system,
        value: args.value,
        expectedVersion: args.expectedVersion,
      });
      const body = parseArgs(registerSpecimenInput, args.input);
      const u = await services.specimens.upsertSpecimen(biobank, {
        key: { kind: 'external', system, value },
        body,
        ...(expectedVersion !== undefined ? { expectedVersion } : {}),
      });
      return { created: u.created, specimen: toSpecimenDto(u.specimen) };
    },
    async registerSpecimens(_root, args: unknown, { biobank, services }) {
      const { specimens } = parseArgs(registerSpecimensInput, args);
      return (await services.specimens.registerSpecimens(biobank, specimens)).map(toSpecimenDto);
    },
    async updateSpecimen(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = versionedArgs.parse({
        id: args.id,
        expectedVersion: args.expectedVersion,
      });
      const patch = parseArgs(updateSpecimenInput, args.input);
      return toSpecimenDto(await services.specimens.updateSpecimen(biobank, { id, expectedVersion, patch }));
    },
    receiveSpecimen: action(receiveInput, (s, c, id, i) => s.receiveSpecimen(c, id, i)),
    storeSpecimen: action(placementInput, (s, c, id, i) => s.storeSpecimen(c, id, i)),
    moveSpecimen: action(placementInput, (s, c, id, i) => s.moveSpecimen(c, id, i)),
    checkOutSpecimen: action(checkOutInput, (s, c, id, i) => s.checkOutSpecimen(c, id, i)),
    checkInSpecimen: action(checkInInput, (s, c, id, i) => s.checkInSpecimen(c, id, i)),
    consumeSpecimen: action(consumeInput, (s, c, id, i) => s.consumeSpecimen(c, id, i)),
    destroySpecimen: action(plainActionInput, (s, c, id, i) => s.destroySpecimen(c, id, i)),
    markSpecimenMissing: action(plainActionInput, (s, c, id, i) => s.markSpecimenMissing(c, id, i)),
    markSpecimenFound: action(markFoundInput, (s, c, id, i) => s.markSpecimenFound(c, id, i)),
    placeHold: action(holdInput, (s, c, id, i) => s.placeHold(c, id, i)),
    releaseHold: action(holdInput, (s, c, id, i) => s.releaseHold(c, id, i)),
    async aliquotSpecimen(_root, args: ActionArgs, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      return split(
        await services.specimens.aliquotSpecimen(biobank, id, parseArgs(aliquotInput, args.input)),
      );
    },
    async deriveSpecimen(_root, args: ActionArgs, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      return split(
        await services.specimens.deriveSpecimen(biobank, id, parseArgs(derivativeInput, args.input)),
      );
    },
    async applyScans(_root, args: unknown, { biobank, services }) {
      const { scans } = parseArgs(scansInput, args);
      return (await services.scans.applyScans(biobank, scans)).map(toSpecimenDto);
    },
  },
};
