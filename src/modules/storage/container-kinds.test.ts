import { describe, expect, it } from 'vitest';
import { ALLOWED_PARENTS, KIND_LOCK_ORDER } from './container-kinds.js';
import { CONTAINER_KINDS } from './storage.table.js';

describe('the storage lock order', () => {
  it('lists every kind once', () => {
    expect([...KIND_LOCK_ORDER].sort()).toEqual([...CONTAINER_KINDS].sort());
  });

  it('puts every kind after each kind that may hold it, so parents are locked before children', () => {
    for (const [kind, parents] of Object.entries(ALLOWED_PARENTS)) {
      for (const parent of parents) {
        if (parent === null) continue;
        expect(KIND_LOCK_ORDER.indexOf(parent), `${parent} holds ${kind}`).toBeLessThan(
          KIND_LOCK_ORDER.indexOf(kind as (typeof KIND_LOCK_ORDER)[number]),
        );
      }
    }
  });
});
