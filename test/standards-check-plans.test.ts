import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';
import { makeLab, type Lab } from './helpers/inventory.js';

// The per-specimen check runs after every change (a rack scan queues one for its 96 tubes). Its
// facts statement and its results statement are prepared, so a session does not plan them for
// every check: planning the facts statement cost more than running it.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  // One connection: the prepared statements read below are the ones the checks executed.
  t = await createTestApp({ env: { DATABASE_POOL_SIZE: '1' } });
  lab = await makeLab(t);
});
afterAll(() => t.close());

describe('the per-specimen check', () => {
  it('prepares its facts and results statements once per session, the facts with one generic plan', async () => {
    const box = await lab.box({ rows: 2, cols: 6 });
    const tubes = await Promise.all(
      ['A1', 'A2', 'A3'].map((position) =>
        lab.register({ type: 'serum', quantity: 1, containerId: box.id, position }),
      ),
    );
    for (let i = 0; i < 12; i++) {
      // A different set each time (one to three tubes): the plan does not depend on how many.
      const ids = tubes.slice(0, 1 + (i % 3)).map((s) => s.id);
      await t.c.services.standards.checkSpecimens(systemCtx(t.c), ids);
    }
    const { rows } = await t.c.db.execute<{ statement: string; generic: number; custom: number }>(sql`
      select left(regexp_replace(statement, '[[:space:]]+', ' ', 'g'), 30) as statement,
             generic_plans::int as generic, custom_plans::int as custom
        from pg_prepared_statements
       where statement ~ '^[[:space:]]*with (chunk|input) as'
       order by 1`);
    const [facts, results] = rows;
    // The facts statement runs its generic plan from the first check; the results statement is
    // prepared once (PostgreSQL chooses, after its first five executions, which plan to keep).
    expect(rows).toHaveLength(2);
    expect(facts).toEqual({ statement: ' with chunk as ( select s.id, ', generic: 12, custom: 0 });
    expect(results!.statement).toBe(' with input as ( select * from');
    expect(results!.generic + results!.custom).toBe(12);
    // Forcing the generic plan was the check's transaction's setting only.
    const mode = await t.c.db.execute<{ plan_cache_mode: string }>(sql`show plan_cache_mode`);
    expect(mode.rows[0]!.plan_cache_mode).toBe('auto');
    // The checks ran: each tube has its results.
    const checked = await t.sql.query<{ n: number }>(
      'select count(distinct specimen_id)::int as n from qc_result where specimen_id = any($1::uuid[])',
      [tubes.map((s) => s.id)],
    );
    expect(checked.rows[0]!.n).toBe(3);
  });
});
