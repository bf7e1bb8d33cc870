// API fields written by PostgreSQL for read models that hand rows straight to the API: a field map
// (API field -> SQL expression over a table reference) builds a whole object as JSON (REST, the
// scan lookup), or the columns of only the fields a GraphQL query selects (the specimen page).

/**
 * API field name -> SQL expression over the table reference `t`, in the API's field order; each
 * expression is the API's value both inside a JSON object and as a column the driver parses.
 */
export type SqlFieldMap = Readonly<Record<string, (t: string) => string>>;

/** `Date#toISOString` in SQL: UTC, milliseconds truncated like the driver's date parsing. */
export const isoSql = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** `json_build_object` (or jsonb's) of every field of the map over `t`, in the map's order. */
export function jsonObjectSql(
  map: SqlFieldMap,
  t: string,
  build: 'json_build_object' | 'jsonb_build_object' = 'json_build_object',
): string {
  const pairs = Object.entries(map).map(([name, expr]) => `'${name}', ${expr(t)}`);
  return `${build}(${pairs.join(', ')})`;
}
