/**
 * The version a write expects: a number from `If-Match` / `expectedVersion`, or `*` (RFC 9110
 * 13.1.1: `If-Match: *` matches whatever version is current, and fails only when nothing exists).
 */
export type ExpectedVersion = number | '*';

/**
 * The version to check a write against, read under the caller's lock: `*` becomes the current one,
 * so the write's `version = $expected` guard still refuses a row changed meanwhile.
 */
export const resolveVersion = (expected: ExpectedVersion, current: number): number =>
  expected === '*' ? current : expected;
