import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

import { outsideAcceptedYears } from '../clock.js';
import type { ErrorCode } from '../errors.js';

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'RFC 3339 date-time with offset, years 1900 to 9999',
  serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  parseValue: (v) => parseDateTime(v),
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

function parseDateTime(v: unknown): string {
  if (
    typeof v === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) &&
    !Number.isNaN(Date.parse(v)) &&
    !outsideAcceptedYears(v)
  ) {
    return v;
  }
  throw new GraphQLError('DateTime must be an RFC 3339 date-time with offset in the years 1900 to 9999', {
    extensions: { code: 'VALIDATION_FAILED' satisfies ErrorCode },
  });
}

/**
 * A JSON literal as a value: a variable inside it takes the variable's value, and an enum-looking
 * word (`[plasma]`) its name, as a client writing GraphQL expects.
 */
function literal(ast: ValueNode, variables?: Readonly<Record<string, unknown>> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.LIST:
      return ast.values.map((v) => literal(v, variables));
    case Kind.VARIABLE:
      return variables?.[ast.name.value] ?? null;
    default:
      return null;
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literal,
});
