// API objects written by PostgreSQL for read models that hand rows straight to the API: a field
// map (API field -> SQL expression over a table reference) builds every field as JSON for REST, or
// only the fields a GraphQL query selects (issue 16: building all of them was most of a page's cost).

/**
 * API field name -> SQL expression over the table reference `t`, in the API's field order; each
 * expression is the API's value both inside a JSON object and as a column the driver parses.
 */
export type SqlFieldMap = Readonly<Record<string, (t: string) => string>>;

/** `Date#toISOString` in SQL: UTC, milliseconds truncated like the driver's date parsing. */
export const isoSql = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * `json_build_object` of the map's fields over `t` ('all', or those named in `fields`, in the
 * map's order), with `extra` pairs (`'name', expression`) after them.
 */
export function jsonObjectSql(
  map: SqlFieldMap,
  t: string,
  fields: ReadonlySet<string> | 'all',
  extra: readonly string[] = [],
): string {
  const pairs = Object.entries(map)
    .filter(([name]) => fields === 'all' || fields.has(name))
    .map(([name, expr]) => `'${name}', ${expr(t)}`);
  return `json_build_object(${[...pairs, ...extra].join(', ')})`;
}
