import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { z } from 'zod';
import { isDomainError, type ErrorCode } from '../errors.js';
import { encodeCursor, type Page } from '../pagination.js';

// What every resolver does the same way: read arguments with the REST zod schemas, answer a
// lookup of an unknown id with null, and shape a service page as a connection.

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
    s = s.unwrap() as z.ZodType;
  }
  return s;
}

/**
 * GraphQL hands a resolver `null` for an input field the caller set to null, where the REST
 * schemas say `optional()` (absent). Drops those nulls at every depth, except where the schema
 * itself accepts null (an update clearing a field, an empty rack position), so the one zod
 * schema validates both transports.
 */
export function withoutNulls(value: unknown, schema: z.ZodType): unknown {
  const inner = unwrap(schema);
  if (Array.isArray(value)) {
    return inner instanceof z.ZodArray
      ? value.map((v) => withoutNulls(v, inner.element as z.ZodType))
      : value;
  }
  if (value !== null && typeof value === 'object' && inner instanceof z.ZodObject) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.fromEntries(
      Object.entries(value).flatMap(([key, v]): [string, unknown][] => {
        const field = shape[key];
        // Unknown keys stay, so a strict schema reports them.
        if (!field) return [[key, v]];
        if (v === null) return field.safeParse(null).success ? [[key, null]] : [];
        return [[key, withoutNulls(v, field)]];
      }),
    );
  }
  return value;
}

/**
 * The REST page query's names as a connection's arguments: resolvers hand `first` and `after` to
 * the services as `limit` and `cursor`, and a refusal names what the caller wrote.
 */
const CONNECTION_ARGUMENTS: Readonly<Record<string, string>> = { limit: 'first', cursor: 'after' };

/** Parses resolver arguments with a REST schema; a failure is VALIDATION_FAILED naming the argument. */
export function parseArgs<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(withoutNulls(value ?? {}, schema));
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues as { path: PropertyKey[] }[]) {
    const first = issue.path[0];
    const name = typeof first === 'string' ? CONNECTION_ARGUMENTS[first] : undefined;
    if (name) issue.path = [name, ...issue.path.slice(1)];
  }
  throw parsed.error;
}

/** A lookup by id answers null for an unknown id (or another institution's), as REST answers 404. */
export async function nullIfNotFound<T>(code: ErrorCode, run: () => Promise<T>): Promise<T | null> {
  try {
    return await run();
  } catch (err) {
    if (isDomainError(err) && err.code === code) return null;
    throw err;
  }
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
}

/**
 * A keyset page as a connection. Every list the services page is keyed by id, so an edge's
 * cursor is the one the service would issue after that row.
 */
export function toConnection<V, T extends { id: string }>(page: Page<V>, map: (v: V) => T): Connection<T> {
  const edges = page.items.map((v) => {
    const node = map(v);
    return { cursor: encodeCursor(node.id), node };
  });
  return {
    edges,
    pageInfo: {
      endCursor: page.nextCursor ?? edges.at(-1)?.cursor ?? null,
      hasNextPage: page.nextCursor !== null,
    },
  };
}

/** The distinct non-null values, for a loader's one query. */
export const distinct = (values: (string | null | undefined)[]): string[] => [
  ...new Set(values.filter((v): v is string => typeof v === 'string')),
];

/** Field name -> the fields selected below it (empty for a leaf). */
export type SelectionTree = Map<string, SelectionTree>;

/**
 * The fields selected at `path` below the resolved field, with what each selects in turn
 * (fragments merged, aliases by field name): what a page may build, and only that, in one
 * statement. A field under @skip/@include counts as selected (it is read, not shown).
 */
export function selectionTree(info: GraphQLResolveInfo, path: readonly string[]): SelectionTree {
  const merge = (tree: SelectionTree, set: SelectionSetNode | undefined): void => {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.INLINE_FRAGMENT) merge(tree, s.selectionSet);
      else if (s.kind === Kind.FRAGMENT_SPREAD) merge(tree, info.fragments[s.name.value]?.selectionSet);
      else {
        let sub = tree.get(s.name.value);
        if (!sub) tree.set(s.name.value, (sub = new Map<string, SelectionTree>()));
        merge(sub, s.selectionSet);
      }
    }
  };
  const root: SelectionTree = new Map();
  for (const node of info.fieldNodes) merge(root, node.selectionSet);
  let tree = root;
  for (const name of path) tree = tree.get(name) ?? new Map<string, SelectionTree>();
  return tree;
}
