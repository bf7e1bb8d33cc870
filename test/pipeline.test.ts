import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelined } from '../src/db/pipeline.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('statements in one round trip (src/db/pipeline.ts)', () => {
  it('answers each statement its rows as text, values passed as parameters', async () => {
    const client = await t.sql.connect();
    try {
      const quoted = `O'Brien \\ ";--`;
      const results = await pipelined(client, [
        { text: 'select $1::text as v, 2 as n', values: [quoted] },
        { text: 'select generate_series(1, 3)' },
        { text: 'begin' },
        { text: 'commit' },
      ]);
      expect(results).toEqual([[[quoted, '2']], [['1'], ['2'], ['3']], [], []]);
    } finally {
      client.release();
    }
  });

  it('skips the statements after one that raises, and leaves the connection usable', async () => {
    const client = await t.sql.connect();
    try {
      await client.query('create temporary table pipelined_effect (n int)');
      await client.query('begin');
      await client.query('insert into pipelined_effect values (1)');
      await expect(
        pipelined(client, [{ text: 'select 1 / $1::int', values: ['0'] }, { text: 'commit' }]),
      ).rejects.toMatchObject({ code: '22012' });
      // The COMMIT never ran: the transaction is still open, and failed.
      await expect(client.query('select 1')).rejects.toMatchObject({ code: '25P02' });
      await client.query('rollback');
      const { rows } = await client.query('select count(*)::int as n from pipelined_effect');
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      client.release();
    }
  });

  it('prepares a named statement once per connection, then only binds and runs it', async () => {
    const client = await t.sql.connect();
    try {
      const named = { text: 'select $1::int + 1 as n', name: 'pipeline_test_add_one' };
      for (const v of ['1', '41']) {
        const [rows] = await pipelined(client, [{ ...named, values: [v] }]);
        expect(rows).toEqual([[String(Number(v) + 1)]]);
      }
      const { rows } = await client.query<{ n: number }>(
        'select count(*)::int as n from pg_prepared_statements where name = $1',
        [named.name],
      );
      expect(rows).toEqual([{ n: 1 }]);
      // Raising at execution leaves it prepared and usable.
      await expect(pipelined(client, [{ ...named, values: ['2147483647'] }])).rejects.toMatchObject({
        code: '22003',
      });
      expect(await pipelined(client, [{ ...named, values: ['2'] }])).toEqual([[['3']]]);
    } finally {
      client.release();
    }
  });
});
