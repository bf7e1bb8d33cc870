import { z } from 'zod';

/**
 * A list whose entries each say something once (a tube's external ids, a donor's diagnoses): an
 * entry given twice is a 400 naming its index, where storing it twice would blur what the record
 * says. `keyOf` says when two entries are the same.
 */
export function listedOnce<T extends z.ZodType>(item: T, keyOf: (v: z.output<T>) => string) {
  return z.array(item).superRefine((items, ctx) => {
    const first = new Map<string, number>();
    items.forEach((v, i) => {
      const key = keyOf(v);
      const at = first.get(key);
      if (at === undefined) first.set(key, i);
      else ctx.addIssue({ code: 'custom', path: [i], message: `is listed twice (first at ${at})` });
    });
  });
}
