import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryTextRows } from '../src/db/text-rows.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// The scan lookup reads its rows as column texts through node-postgres' own query machinery
// (src/db/text-rows.ts). These hold what it answers and how it fails to a plain query's.

let t: TestApp;
let session: pg.Pool;

beforeAll(async () => {
  t = await createTestApp();
  // One connection: every statement below runs in the same session, one after another.
  session = new pg.Pool({ connectionString: t.config.DATABASE_URL, max: 1 });
});
afterAll(async () => {
  await session.end();
  await t.close();
});

const statement = (text: string, values: unknown[] = [], name = 'text_rows_test') => ({
  name,
  text,
  values,
  timeoutMs: 5_000,
});

describe('rows read as column texts', () => {
  it('answer each column as PostgreSQL wrote it, NULL as null, every row in order', async () => {
    const text = `select n::int4, case when n = 2 then null else 'é"' || n end as label,
                         json_build_object('n', n, 'at', timestamptz '2026-12-03 10:00:00.123456+00') as doc
                    from generate_series(1, $1::int) as n`;
    const rows = await queryTextRows(session, statement(text, [3]));
    expect(rows).toEqual([
      ['1', 'é"1', '{"n" : 1, "at" : "2026-12-03T10:00:00.123456+00:00"}'],
      ['2', null, '{"n" : 2, "at" : "2026-12-03T10:00:00.123456+00:00"}'],
      ['3', 'é"3', '{"n" : 3, "at" : "2026-12-03T10:00:00.123456+00:00"}'],
    ]);
    // The same statement again runs prepared (parsed once per session), with new values.
    expect(await queryTextRows(session, statement(text, [0]))).toEqual([]);
    const prepared = await session.query<{ name: string }>(
      `select name from pg_prepared_statements where name = 'text_rows_test'`,
    );
    expect(prepared.rows).toHaveLength(1);
  });

  it('fail as a plain query fails, and leave the session usable', async () => {
    const failed = queryTextRows(session, statement('select 1 / $1::int', [0], 'text_rows_div'));
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    const bad = queryTextRows(session, statement('select * from no_such_table', [], 'text_rows_bad'));
    await expect(bad).rejects.toMatchObject({ code: '42P01' });
    expect(await queryTextRows(session, statement('select $1::text', ['after'], 'text_rows_after'))).toEqual([
      ['after'],
    ]);
  });

  it('give up at their deadline, and the session answers the next statement', async () => {
    const slow = queryTextRows(session, {
      ...statement('select pg_sleep(1)', [], 'text_rows_slow'),
      timeoutMs: 100,
    });
    await expect(slow).rejects.toThrow('Query read timeout');
    expect(await queryTextRows(session, statement('select $1::text', ['next'], 'text_rows_next'))).toEqual([
      ['next'],
    ]);
  });
});
