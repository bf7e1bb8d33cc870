import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { validatorCompiler, type createJsonSchemaTransform } from 'fastify-type-provider-zod';
import type { z } from 'zod';

// Bodies are as strict as query strings: a member the route's schema does not name, at any depth,
// is a 400 naming it (`body.readings.0.barcod`), instead of being dropped while the request
// succeeds without it (`"aply": true` answering a rack scan that applied nothing). Checked here,
// from each schema's shape, rather than by rebuilding every schema strict: a rebuilt schema would
// lose its descriptions in the OpenAPI document.

/** What this module reads of a zod 4 schema's definition. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

/** A JSON object (a parsed body's objects are plain ones). */
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Where an unknown member was met: the object's path and the member's name. */
export interface UnknownMember {
  path: (string | number)[];
  key: string;
}

/** The members of `value` that `schema` does not name, at any depth. */
export function unknownMembers(
  schema: z.ZodType,
  value: unknown,
  path: (string | number)[] = [],
): UnknownMember[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      if (!isObject(value)) return [];
      const shape = def.shape ?? {};
      const found: UnknownMember[] = [];
      for (const key of Object.keys(value)) {
        const member = Object.hasOwn(shape, key) ? shape[key] : undefined;
        if (member) found.push(...unknownMembers(member, value[key], [...path, key]));
        // A catchall (strict objects have `never`, which zod refuses itself) takes any other key.
        else if (!def.catchall) found.push({ path, key });
      }
      return found;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return unknownMembers(def.innerType!, value, path);
    case 'pipe':
      return unknownMembers(def.in!, value, path);
    case 'lazy':
      return unknownMembers(def.getter!(), value, path);
    case 'array':
      return Array.isArray(value)
        ? value.flatMap((item, i) => unknownMembers(def.element!, item, [...path, i]))
        : [];
    case 'tuple':
      return Array.isArray(value)
        ? value.flatMap((item, i) => {
            const at = def.items![i] ?? def.rest;
            return at ? unknownMembers(at, item, [...path, i]) : [];
          })
        : [];
    case 'record':
      return isObject(value)
        ? Object.keys(value).flatMap((k) => unknownMembers(def.valueType!, value[k], [...path, k]))
        : [];
    case 'union': {
      // The alternative the value is: the first that accepts it (none: zod answers the value).
      const option = def.options!.find((o) => o.safeParse(value).success);
      return option ? unknownMembers(option, value, path) : [];
    }
    case 'intersection': {
      // A member either side names is known.
      const left = unknownMembers(def.left!, value, path);
      const right = unknownMembers(def.right!, value, path);
      const named = (u: UnknownMember) => `${u.path.join('\u0000')}\u0000${u.key}`;
      const rightSet = new Set(right.map(named));
      return left.filter((u) => rightSet.has(named(u)));
    }
    default:
      return [];
  }
}

/**
 * The REST plugin's validator compiler: zod's, and for bodies, unknown members refused with the
 * validation error zod gives a strict object's (`unrecognized_keys`), alongside zod's own issues.
 */
export const strictBodyValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = validatorCompiler(route) as (data: unknown) => {
    value?: unknown;
    error?: FastifySchemaValidationError[];
  };
  if (route.httpPart !== 'body') return validate;
  return (data: unknown) => {
    const unknown = unknownMembers(route.schema, data);
    if (unknown.length === 0) return validate(data);
    const rest = validate(data).error;
    const issues = unknown.map(({ path, key }): FastifySchemaValidationError => ({
      // How fastify-type-provider-zod marks its errors, which the error handler recognizes.
      [Symbol.for('ZodFastifySchemaValidationError')]: true,
      keyword: 'unrecognized_keys',
      instancePath: `/${path.join('/')}`,
      schemaPath: `#/${path.join('/')}/unrecognized_keys`,
      message: `Unrecognized key: "${key}"`,
      params: { keys: [key] },
    }));
    return { error: [...issues, ...(rest ?? [])] };
  };
};

/**
 * A request body's JSON Schema as the OpenAPI document gives it, with every object that lists its
 * properties closed (`additionalProperties: false`), as the validator above holds it. Parts of an
 * `allOf` are left open (closing each would refuse the other's members), and so is a `$ref`.
 */
export function closedBodySchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closedBodySchema);
  if (!isObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'allOf' && Array.isArray(value))
      out[key] = (value as unknown[]).map((part) =>
        isObject(part) ? { ...part, properties: closedMembers(part.properties) } : part,
      );
    else if (key === 'properties') out[key] = closedMembers(value);
    else if (key === 'items' || key === 'anyOf' || key === 'oneOf' || key === 'prefixItems')
      out[key] = closedBodySchema(value);
    else out[key] = value;
  }
  if (out.type === 'object' && isObject(out.properties) && !('additionalProperties' in out))
    out.additionalProperties = false;
  return out;
}

function closedMembers(properties: unknown): unknown {
  if (!isObject(properties)) return properties;
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, closedBodySchema(v)]));
}

type SchemaTransform = ReturnType<typeof createJsonSchemaTransform>;

/** The OpenAPI transform, with the bodies of REST operations (`/v1/...`) closed as they are validated. */
export function closedRestBodies(transform: SchemaTransform): SchemaTransform {
  return (input) => {
    const out = transform(input);
    const body = (out.schema as { body?: unknown } | undefined)?.body;
    if (!out.url.startsWith('/v1/') || body === undefined) return out;
    return { ...out, schema: { ...out.schema, body: closedBodySchema(body) } };
  };
}
