import { createRequire } from 'node:module';
import type * as GraphqlModule from 'graphql';
import {
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

// The cost limit of GraphQL (issue 13, finding 2): within the depth and alias limits a document
// can still ask for a great many objects (30 aliases of `specimens(first: 500)` with their
// locations and QC results). The cost counts the objects a query may return: each field of an
// object type costs one per parent it is asked for, a list multiplies what is below it by its
// size. Computed before anything runs, from the arguments the request sends (variables
// included), so it cannot be a validation rule: Mercurius caches those by document text.

// The graphql build Mercurius runs (see guards.ts): its type predicates accept Mercurius' schema.
const runtime = createRequire(import.meta.url)('graphql') as typeof GraphqlModule;

/** A list with no `first`: how many items it is counted as (a box holds up to 100 tubes). */
export const DEFAULT_LIST_SIZE = 20;
const LIST_SIZE: Record<string, number> = {
  'ContainerMap.positions': 100,
  'Query.containers': 100,
  'Query.custody': 100,
  'Query.apiKeys': 100,
  'Query.protocols': 100,
  'Query.destructionList': 100,
};
/** Fields whose one object costs more than a row: a subtree walk, a grid of occupants. */
const FIELD_WEIGHT: Record<string, number> = {
  'Container.map': 10,
  'Container.freePositions': 10,
  'Specimen.descendants': 5,
  'Query.catalogue': 100,
  'Query.verifyCustody': 10,
};
/** Arguments that say how many items a list field returns. */
const SIZE_ARGUMENTS = ['first', 'count'];
/** Lists inside a paginated field: its `first` already counts them. */
const PAGE_LISTS = new Set(['edges', 'nodes']);

function argumentValue(node: ValueNode | undefined, variables: Record<string, unknown>): unknown {
  if (!node) return undefined;
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  if (node.kind === Kind.INT) return Number(node.value);
  return undefined;
}

/** The size a field asks for: its `first` or `count` (sent, or the schema's default), if any. */
function sizeArgument(
  node: FieldNode,
  def: GraphQLField<unknown, unknown>,
  variables: Record<string, unknown>,
): number | undefined {
  for (const name of SIZE_ARGUMENTS) {
    const arg = def.args.find((a) => a.name === name);
    if (!arg) continue;
    const sent = argumentValue(node.arguments?.find((a) => a.name.value === name)?.value, variables);
    const value = sent ?? arg.defaultValue;
    if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, Math.floor(value));
  }
  return undefined;
}

/**
 * The cost of the operation a request runs, given its variables. Introspection fields are free
 * (the schema is small and fixed); a fragment's cost is counted where it is spread.
 */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> = {},
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  const walk = (
    set: SelectionSetNode,
    parent: GraphQLNamedType,
    multiplier: number,
    paged: boolean,
    spreading: ReadonlySet<string>,
  ): number => {
    let cost = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.INLINE_FRAGMENT || s.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = s.kind === Kind.FRAGMENT_SPREAD ? fragments.get(s.name.value) : s;
        // A cycle is refused by validation; an unknown fragment too.
        if (!fragment || (s.kind === Kind.FRAGMENT_SPREAD && spreading.has(s.name.value))) continue;
        const condition = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : parent;
        const next = s.kind === Kind.FRAGMENT_SPREAD ? new Set([...spreading, s.name.value]) : spreading;
        cost += walk(fragment.selectionSet, condition ?? parent, multiplier, paged, next);
        continue;
      }
      if (s.name.value.startsWith('__') || !s.selectionSet) continue;
      if (!runtime.isObjectType(parent) && !runtime.isInterfaceType(parent)) continue;
      const def = parent.getFields()[s.name.value];
      if (!def) continue;
      const key = `${parent.name}.${def.name}`;
      const isList = runtime.isListType(runtime.getNullableType(def.type));
      const sized = sizeArgument(s, def, variables);
      const size =
        sized ??
        (isList ? (paged && PAGE_LISTS.has(def.name) ? 1 : (LIST_SIZE[key] ?? DEFAULT_LIST_SIZE)) : 1);
      const objects = multiplier * size;
      cost += objects * (FIELD_WEIGHT[key] ?? 1);
      cost += walk(s.selectionSet, runtime.getNamedType(def.type), objects, sized !== undefined, spreading);
    }
    return cost;
  };

  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;
  const root = schema.getRootType(operation.operation);
  return root ? walk(operation.selectionSet, root, 1, false, new Set()) : 0;
}
