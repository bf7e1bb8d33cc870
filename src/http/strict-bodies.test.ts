import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { unknownMembers } from './strict-bodies.js';

const reading = z.object({ position: z.string(), barcode: z.string().nullable() });
const scan = z.object({
  readings: z.array(reading).min(1),
  apply: z.boolean().default(false),
  at: z.string().optional(),
});

const names = (schema: z.ZodType, value: unknown) =>
  unknownMembers(schema, value).map(({ path, key }) => [...path, key].join('.'));

describe('unknownMembers', () => {
  it('names a member the schema does not know, at any depth, and nothing else', () => {
    expect(names(scan, { readings: [{ position: 'A1', barcode: null }], apply: true })).toEqual([]);
    expect(names(scan, { readings: [{ position: 'A1', barcode: null }], aply: true })).toEqual(['aply']);
    expect(
      names(scan, {
        readings: [
          { position: 'A1', barcode: 'x' },
          { position: 'A2', barcod: 'y' },
        ],
      }),
    ).toEqual(['readings.1.barcod']);
  });

  it('sees through optional, nullable, default, pipes and transforms', () => {
    const wrapped = z.object({
      inner: z
        .object({ a: z.number() })
        .nullable()
        .optional()
        .transform((v) => v),
    });
    expect(names(wrapped, { inner: { a: 1, b: 2 } })).toEqual(['inner.b']);
    expect(names(wrapped, { inner: null })).toEqual([]);
  });

  it('takes the alternative of a union the value is, and a member either side of an intersection names', () => {
    const union = z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('a'), x: z.number() }),
      z.object({ kind: z.literal('b'), y: z.number() }),
    ]);
    expect(names(union, { kind: 'b', y: 1 })).toEqual([]);
    expect(names(union, { kind: 'b', y: 1, x: 2 })).toEqual(['x']);
    // A value no alternative accepts is zod's to refuse.
    expect(names(union, { kind: 'c', z: 1 })).toEqual([]);
    const both = z.intersection(z.object({ a: z.number() }), z.object({ b: z.number() }));
    expect(names(both, { a: 1, b: 2 })).toEqual([]);
    expect(names(both, { a: 1, b: 2, c: 3 })).toEqual(['c']);
  });

  it('leaves objects that take any member (records, catchalls, strict ones) to their schema', () => {
    expect(names(z.record(z.string(), z.object({ n: z.number() })), { k: { n: 1, m: 2 } })).toEqual(['k.m']);
    expect(names(z.object({ a: z.number() }).catchall(z.number()), { a: 1, b: 2 })).toEqual([]);
    expect(names(z.object({ a: z.number() }).strict(), { a: 1, b: 2 })).toEqual([]);
    expect(names(z.object({ a: z.number() }).passthrough(), { a: 1, b: 2 })).toEqual([]);
  });
});
