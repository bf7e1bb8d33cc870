import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';
import { makeLab, type ContainerBody, type Lab } from './helpers/inventory.js';

// The per-specimen check verifies each custody chain from the head its previous check verified
// (custody_checkpoint): a change costs the new events only, whatever the history's length, and
// `/custody/verify` still recomputes the whole chain on demand.

let t: TestApp;
let lab: Lab;
let box: ContainerBody;

beforeAll(async () => {
  // Workers off: the test runs each check itself, so it knows which events each one saw.
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 4, cols: 16 });
});
afterAll(() => t.close());

let position = 0;
const nextPosition = () => {
  position++;
  return `${String.fromCharCode(65 + Math.floor((position - 1) / 16))}${((position - 1) % 16) + 1}`;
};

async function stored() {
  return lab.register({ type: 'serum', quantity: 2, containerId: box.id, position: nextPosition() });
}

const move = (id: string) => lab.action(id, 'move', { containerId: box.id, position: nextPosition() });

async function check(id: string) {
  await t.c.services.standards.checkSpecimens(systemCtx(t.c), [id]);
  const { rows } = await t.sql.query<{ outcome: string; message: string }>(
    `select outcome::text, message from qc_result where specimen_id = $1 and check_code = 'custody.chain'`,
    [id],
  );
  return rows[0]!;
}

async function checkpoint(id: string) {
  const { rows } = await t.sql.query<{ seq: number; hash: string; first_type: string }>(
    'select seq, hash, first_type from custody_checkpoint where specimen_id = $1',
    [id],
  );
  return rows[0] ?? null;
}

const chainHead = async (id: string) =>
  (
    await t.sql.query<{ custody_seq: number; custody_head: string }>(
      'select custody_seq, custody_head from specimen where id = $1',
      [id],
    )
  ).rows[0]!;

/** What a superuser could do: switch the append-only trigger off for one transaction. */
async function asSuperuser(statement: string, params: unknown[]) {
  const client = await t.sql.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await client.query(statement, params);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
}

const forge = (id: string, seq: number) =>
  asSuperuser(
    `update custody_event set details = details || '{"forged": true}'::jsonb where specimen_id = $1 and seq = $2`,
    [id, seq],
  );

describe('the per-specimen custody check', () => {
  it('verifies a new chain from its first event and keeps its head as verified', async () => {
    const tube = await stored();
    expect(await checkpoint(tube.id)).toBeNull();
    const result = await check(tube.id);
    expect(result.outcome).toBe('pass');
    expect(result.message).toContain('every hash recomputed');
    const head = await chainHead(tube.id);
    expect(await checkpoint(tube.id)).toEqual({
      seq: head.custody_seq,
      hash: head.custody_head,
      first_type: 'registered',
    });
  });

  it('after a change rehashes only the events after the verified head, and advances it', async () => {
    const tube = await stored();
    await check(tube.id);
    const before = await checkpoint(tube.id);
    // An event the last check verified is altered: only a full recomputation can see it now.
    await forge(tube.id, 1);
    await move(tube.id);
    await move(tube.id);
    const result = await check(tube.id);
    expect(result.outcome).toBe('pass');
    expect(result.message).toContain(`${before!.seq + 2} custody events`);
    const head = await chainHead(tube.id);
    expect(await checkpoint(tube.id)).toMatchObject({ seq: head.custody_seq, hash: head.custody_head });
    // Full recomputation on demand still finds it.
    const verify = await lab.get(`/v1/specimens/${tube.id}/custody/verify`, { role: 'technician' });
    expect(verify.json()).toMatchObject({ valid: false, firstBreak: { seq: 1, reason: 'hash_mismatch' } });
  });

  it('fails on an altered event after the verified head and does not advance past it', async () => {
    const tube = await stored();
    await check(tube.id);
    const before = await checkpoint(tube.id);
    await move(tube.id);
    const altered = (await chainHead(tube.id)).custody_seq;
    await forge(tube.id, altered);
    const result = await check(tube.id);
    expect(result.outcome).toBe('fail');
    expect(result.message).toBe(`the custody chain does not verify: hash mismatch at event ${altered}`);
    expect(await checkpoint(tube.id)).toEqual(before);
    // Still failing on the next change: the altered event stays after the verified head.
    await move(tube.id);
    expect((await check(tube.id)).outcome).toBe('fail');
    expect(await checkpoint(tube.id)).toEqual(before);
  });

  it('finds an altered event of a chain never checked, however old', async () => {
    const tube = await stored();
    await move(tube.id);
    await forge(tube.id, 1);
    const result = await check(tube.id);
    expect(result).toEqual({
      outcome: 'fail',
      message: 'the custody chain does not verify: hash mismatch at event 1',
    });
    expect(await checkpoint(tube.id)).toBeNull();
  });

  it('reports a chain longer than the specimen records, from the verified head', async () => {
    const tube = await stored();
    await check(tube.id);
    const head = await chainHead(tube.id);
    await asSuperuser(`update specimen set custody_seq = custody_seq - 1 where id = $1`, [tube.id]);
    const result = await check(tube.id);
    expect(result).toEqual({
      outcome: 'fail',
      message: `the specimen records ${head.custody_seq - 1} custody events but the ledger holds ${head.custody_seq}`,
    });
  });
});
