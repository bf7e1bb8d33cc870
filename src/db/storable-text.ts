import type { FieldProblem } from '../errors.js';

// PostgreSQL text cannot hold NUL (U+0000), and jsonb refuses a lone UTF-16 surrogate (text would
// store U+FFFD in its place, changing what was sent). Such input is refused with 400 naming the
// field, once for every route and every GraphQL variable, before any schema or service sees it
// (src/http/storable-text.ts, src/graphql/guards.ts), and row by row in an import.

/** Any character worth a closer look: NUL or half of a surrogate pair. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Nesting beyond this is refused: no input of this API nests deeper, and walks stay bounded. */
export const MAX_INPUT_DEPTH = 64;

/** Why PostgreSQL cannot store the string as sent, or undefined when it can. */
export function unstorableText(s: string): string | undefined {
  if (!SUSPECT.test(s)) return undefined;
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which text may not hold';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate, which is not Unicode text';
  return undefined;
}

/** Prototypes that hold nothing, like the ones Fastify gives a query string's and a path's parameters. */
const emptyPrototypes = new WeakSet<object>();

/**
 * A plain object, or one whose prototype is empty and ends in null (Fastify's `request.query` and
 * `request.params`): walked. Class instances (a stream, a Buffer) are not.
 */
function isRecord(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype || proto === null || emptyPrototypes.has(proto)) return true;
  if (Object.getPrototypeOf(proto) !== null || Reflect.ownKeys(proto).length > 0) return false;
  emptyPrototypes.add(proto);
  return true;
}

/**
 * The first string (or object key) of parsed input that PostgreSQL cannot store, named by its
 * path (`body.specimens.3.anatomicSite`). Only plain objects and arrays are walked: a streamed body
 * is left to its own parser.
 */
export function findUnstorableText(value: unknown, path: string, depth = 0): FieldProblem | undefined {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    return problem ? { field: path, message: problem, code: 'invalid_format' } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_INPUT_DEPTH) {
    return { field: path, message: `nests deeper than ${MAX_INPUT_DEPTH} levels`, code: 'too_big' };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}.${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  for (const [key, v] of Object.entries(value)) {
    const keyProblem = unstorableText(key);
    if (keyProblem) return { field: path, message: `has a key that ${keyProblem}`, code: 'invalid_format' };
    const found = findUnstorableText(v, `${path}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}
