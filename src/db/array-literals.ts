// PostgreSQL array literals for bulk `insert ... select from unnest(...)` statements. Array
// parameters go as ready-made literals, cheaper than letting pg escape every element:
// A() for values that need no quoting (uuids, numbers, enum labels, ISO times, hex), Q() for text.

const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;

/** A text[] literal of the values, for one element of a Q() column. */
export const pgArray = (values: readonly string[]) => `{${values.map(quote).join(',')}}`;

/** An array literal of values that need no quoting. */
export const A = (values: readonly (string | number | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : v)).join(',')}}`;

/** An array literal of text values, each quoted. */
export const Q = (values: readonly (string | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : quote(v))).join(',')}}`;
