import type { MercuriusContext } from 'mercurius';
import { describe, expect, it } from 'vitest';
import { batchedResolver } from './batch.js';

const ctx = () => ({}) as MercuriusContext;

describe('batched loaders', () => {
  it('call the loader once for the calls of one request in one tick, in call order', async () => {
    const calls: unknown[][] = [];
    const resolve = batchedResolver(async (queries) => {
      calls.push(queries.map((q) => q.obj));
      return queries.map((q) => `loaded ${String(q.obj)}`);
    });
    const a = ctx();
    const b = ctx();
    const answers = await Promise.all([resolve('x', {}, a), resolve('y', {}, a), resolve('z', {}, b)]);
    expect(answers).toEqual(['loaded x', 'loaded y', 'loaded z']);
    expect(calls).toEqual([['x', 'y'], ['z']]);
    // A later tick is a new batch.
    expect(await resolve('w', {}, a)).toBe('loaded w');
    expect(calls).toEqual([['x', 'y'], ['z'], ['w']]);
  });

  it('fail one field with its own error, every field when the loader fails or miscounts', async () => {
    const oneFails = batchedResolver(async (queries) =>
      queries.map((q) => (q.obj === 'bad' ? new Error('refused') : q.obj)),
    );
    const c = ctx();
    expect(await Promise.all([oneFails('ok', {}, c), oneFails('bad', {}, c)])).toEqual([
      'ok',
      new Error('refused'),
    ]);

    const fails = batchedResolver(() => Promise.reject(new Error('connection lost')));
    const d = ctx();
    const settled = await Promise.allSettled([fails(1, {}, d), fails(2, {}, d)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);

    const short = batchedResolver(async () => ['one']);
    const e = ctx();
    await expect(Promise.all([short(1, {}, e), short(2, {}, e)])).rejects.toThrow(/different number/);
  });
});
