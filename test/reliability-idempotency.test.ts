import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/api-keys.service.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { callAs, createProcessFixture, type ProcessFixture } from './helpers/process-fixture.js';
import { sleep } from './helpers/server-process.js';

// Findings 2 and 3 of the reliability review: the answer under an Idempotency-Key commits with the
// effect (a crash at any point leaves both or neither), a retry waits for an attempt still running
// (bounded), and the key of an attempt whose process died is free within seconds.

const newKey = () => `key-${randomBytes(8).toString('hex')}`;

async function until<T>(check: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(25);
  }
}

describe('Idempotency-Key on every POST, in process', () => {
  let t: TestApp;
  let lab: Lab;

  beforeAll(async () => {
    t = await createTestApp();
    lab = await makeLab(t);
  });
  afterAll(() => t?.close());

  const keyed = (key: string) => ({ headers: { 'idempotency-key': key } });

  it('answers a replay with the first answer, for every kind of write', async () => {
    const box = await lab.box();
    const other = await lab.box();
    const { freezer } = await lab.freezerWithRack();
    const protocol = await lab.post('/v1/protocols', {
      code: uid('PR'),
      title: 'Replay cohort',
      ethicsApprovalRef: 'EC-1',
      consentTiers: ['GENETIC_RESEARCH'],
    });
    expect(protocol.statusCode).toBe(201);
    const protocolId = protocol.json<{ id: string }>().id;
    const participant = await lab.post('/v1/participants', {
      protocolId,
      protocolParticipantId: uid('P'),
      sex: 'female',
      birthYear: 1970,
      mrn: 'MRN-REPLAY-1',
    });
    expect(participant.statusCode).toBe(201);
    const participantId = participant.json<{ id: string }>().id;
    const tube = await lab.register({ containerId: box.id, position: 'A1', quantity: 10 });
    const loose = await lab.register();
    const rack = await lab.container({ kind: 'rack', parentId: freezer.id, grid: { rows: 2, cols: 2 } });
    const { rows } = await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
      hashToken(lab.keys.partner),
    ]);

    // Each write in the order a lab might send it; every one is replayed under its key.
    const writes: [string, unknown, string?][] = [
      ['/v1/specimens', { barcode: uid('S'), type: 'whole_blood', quantity: 2 }],
      ['/v1/specimens/batch', { specimens: [{ barcode: uid('S'), type: 'serum', quantity: 1 }] }],
      ['/v1/api-keys', { name: 'replayed', role: 'technician' }, 'admin'],
      [`/v1/api-keys/${rows[0]!.id}/revoke`, undefined, 'admin'],
      ['/v1/protocols', { code: uid('PR'), title: 'Second', ethicsApprovalRef: 'EC-2', consentTiers: [] }],
      ['/v1/participants', { protocolId, protocolParticipantId: uid('P'), sex: 'male', birthYear: 1980 }],
      ['/v1/participants/search-by-mrn', { mrn: 'MRN-REPLAY-1' }],
      [
        '/v1/consents',
        {
          participantId,
          documentVersion: 'v1',
          signedOn: '2024-01-10',
          obtainedBy: 'nurse-7',
          responses: { GENETIC_RESEARCH: 'yes' },
        },
      ],
      ['/v1/containers', { kind: 'box', barcode: uid('BOX'), parentId: rack.id, slot: 'A1' }],
      [`/v1/containers/${rack.id}/move`, { parentId: (await lab.freezerWithRack()).freezer.id }],
      [`/v1/containers/${box.id}/rack-scan`, { readings: [{ position: 'A1', barcode: tube.barcode }] }],
      [`/v1/specimens/${tube.id}/check-out`, {}, 'technician'],
      [`/v1/specimens/${tube.id}/check-in`, {}, 'technician'],
      [`/v1/specimens/${tube.id}/move`, { containerId: other.id, position: 'B2' }, 'technician'],
      [`/v1/specimens/${tube.id}/consume`, { quantity: 1 }, 'technician'],
      [`/v1/specimens/${tube.id}/aliquots`, { aliquots: [{ quantity: 1 }] }, 'technician'],
      [`/v1/specimens/${tube.id}/place-hold`, { reason: 'QUARANTINE' }],
      [`/v1/specimens/${tube.id}/release-hold`, { reason: 'QUARANTINE' }],
      [`/v1/specimens/${loose.id}/store`, { containerId: box.id, position: 'C3' }, 'technician'],
      [
        '/v1/scans',
        { scans: [{ action: 'move', barcode: loose.barcode, containerId: box.id, position: 'C4' }] },
      ],
      [`/v1/specimens/${loose.id}/mark-missing`, {}],
      [`/v1/specimens/${loose.id}/mark-found`, { containerId: box.id, position: 'D4' }],
      ['/v1/standardization/runs', { filter: {} }],
    ];
    for (const [url, body, role] of writes) {
      const key = newKey();
      const opts = { role: (role ?? 'manager') as 'manager', ...keyed(key) };
      const first = await lab.post(url, body ?? {}, opts);
      expect(first.statusCode, `${url}: ${first.body}`).toBeLessThan(300);
      const again = await lab.post(url, body ?? {}, opts);
      expect(again.statusCode, url).toBe(first.statusCode);
      expect(again.headers['idempotent-replayed'], url).toBe('true');
      const expected =
        url === '/v1/api-keys' ? { ...first.json<object>(), token: null } : first.json<unknown>();
      expect(again.json(), url).toEqual(expected);
      if (first.headers.etag) expect(again.headers.etag, url).toBe(first.headers.etag);
    }
    expect(t.logs.filter((l) => String(l.msg).includes('differs from the one stored'))).toEqual([]);
  });

  it('stores the complete answer of a registration in the transaction that registers the tube', async () => {
    const key = newKey();
    const barcode = uid('S');
    // At commit, the effect's transaction sees its own stored answer: copied aside for the test.
    await t.sql.query('create table if not exists seen_at_commit (key text, body jsonb)');
    await t.sql.query(`
      create or replace function copy_answer_at_commit() returns trigger language plpgsql as $$
      begin
        insert into seen_at_commit
          select key, response_body from idempotency_key where key = '${key}';
        return null;
      end $$`);
    await t.sql.query(`
      create constraint trigger copy_answer_at_commit after insert on specimen
      deferrable initially deferred for each row
      when (new.barcode = '${barcode}') execute function copy_answer_at_commit()`);
    try {
      const res = await lab.post('/v1/specimens', { barcode, type: 'serum', quantity: 1 }, keyed(key));
      expect(res.statusCode).toBe(201);
      const { rows } = await t.sql.query<{ body: unknown }>(
        'select body from seen_at_commit where key = $1',
        [key],
      );
      expect(rows).toEqual([{ body: res.json<unknown>() }]);
    } finally {
      await t.sql.query('drop trigger copy_answer_at_commit on specimen');
    }
  });

  it('answers identical keyed registrations sent together with one tube and one answer', async () => {
    const key = newKey();
    const body = { barcode: uid('S'), type: 'plasma', quantity: 1 };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => lab.post('/v1/specimens', body, keyed(key))),
    );
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201, 201, 201]);
    const first = answers.find((a) => a.headers['idempotent-replayed'] === undefined)!;
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(4);
    for (const a of answers) expect(a.json()).toEqual(first.json());
    const { rowCount } = await t.sql.query('select 1 from specimen where barcode = $1', [body.barcode]);
    expect(rowCount).toBe(1);
  });
});

describe('a retry while the first attempt still runs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { IDEMPOTENCY_WAIT_MS: '300' } });
  });
  afterAll(() => t?.close());

  it('waits at most IDEMPOTENCY_WAIT_MS, then answers 409 IDEMPOTENCY_KEY_IN_USE with Retry-After', async () => {
    const lab = await makeLab(t);
    const { rows } = await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
      hashToken(lab.keys.partner),
    ]);
    const target = rows[0]!.id;
    const key = newKey();
    const revoke = () =>
      lab.post(`/v1/api-keys/${target}/revoke`, {}, { role: 'admin', headers: { 'idempotency-key': key } });
    const lock = await t.sql.connect();
    let first: ReturnType<typeof revoke> | undefined;
    try {
      await lock.query('begin');
      await lock.query('select 1 from api_key where id = $1 for update', [target]);
      first = revoke();
      await until(async () => {
        const { rowCount } = await t.sql.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%api_key%for update%'",
        );
        return rowCount === 1;
      });
      const started = Date.now();
      const second = await revoke();
      expect(second.statusCode).toBe(409);
      expect(second.headers['retry-after']).toBe('1');
      expect(second.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE', retryAfter: 1 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      await lock.query('rollback');
      lock.release();
    }
    expect((await first).statusCode).toBe(200);
    const replay = await revoke();
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });
});

describe('a crash of the process holding a key', () => {
  let f: ProcessFixture;

  beforeAll(async () => {
    f = await createProcessFixture();
  });
  afterAll(() => f?.close());

  /** The server's session running `pattern` (by pg_stat_activity's wait event). */
  const sessionWaiting = (event: string) =>
    until(async () => {
      const { rowCount } = await f.sql.query(
        `select 1 from pg_stat_activity where datname = current_database()
            and application_name = 'biobank' and wait_event = $1`,
        [event],
      );
      return rowCount! > 0;
    });

  it('replays the full answer after a crash between the commit and the answer', async () => {
    const { keys } = await f.institutionWithKeys(['admin', 'technician']);
    const specimenKey = newKey();
    const apiKeyKey = newKey();
    // Both requests pause inside COMMIT, after their effect and answer are written. The process
    // freezes there (SIGSTOP: its connections stay open, so PostgreSQL completes the commits), and
    // is killed once both committed: no answer ever leaves.
    await f.sql.query(`
      create or replace function pause_at_commit() returns trigger language plpgsql as $$
      begin perform pg_sleep(1); return null; end $$`);
    await f.sql.query(`
      create constraint trigger pause_at_commit after insert or update on idempotency_key
      deferrable initially deferred for each row
      when (new.key in ('${specimenKey}', '${apiKeyKey}')) execute function pause_at_commit()`);
    const barcode = uid('CRASH');
    const registration = { barcode, type: 'serum', quantity: 1 };
    const newApiKey = { name: `crash ${apiKeyKey}`, role: 'technician' };

    const a = await f.start();
    const lost = [
      callAs(a, keys.technician)('POST', '/v1/specimens', registration, { 'idempotency-key': specimenKey }),
      callAs(a, keys.admin)('POST', '/v1/api-keys', newApiKey, { 'idempotency-key': apiKeyKey }),
    ].map((p) => p.catch((err: unknown) => err));
    await until(async () => {
      const { rowCount } = await f.sql.query(
        `select 1 from pg_stat_activity where datname = current_database()
            and application_name = 'biobank' and wait_event = 'PgSleep'`,
      );
      return rowCount === 2;
    });
    a.child.kill('SIGSTOP');
    const specimen = await until(async () => {
      const { rows } = await f.sql.query<{ id: string }>('select id from specimen where barcode = $1', [
        barcode,
      ]);
      return rows[0];
    });
    await until(async () => {
      const { rowCount } = await f.sql.query('select 1 from api_key where name = $1', [newApiKey.name]);
      return rowCount === 1;
    });
    await a.kill();
    expect(await Promise.all(lost)).toEqual([expect.any(Error), expect.any(Error)]);
    await f.sql.query('drop trigger pause_at_commit on idempotency_key');

    const b = await f.start();
    const retried = await callAs(b, keys.technician)('POST', '/v1/specimens', registration, {
      'idempotency-key': specimenKey,
    });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    const body = (await retried.json()) as SpecimenBody;
    expect(body).toMatchObject({ id: specimen.id, barcode, type: 'serum', status: 'pending', version: 1 });
    expect(retried.headers.get('etag')).toBe('W/"1"');

    const key = await callAs(b, keys.admin)('POST', '/v1/api-keys', newApiKey, {
      'idempotency-key': apiKeyKey,
    });
    expect(key.status).toBe(201);
    expect(key.headers.get('idempotent-replayed')).toBe('true');
    expect(await key.json()).toMatchObject({ name: newApiKey.name, role: 'technician', token: null });
    const { rowCount } = await f.sql.query('select 1 from specimen where barcode = $1', [barcode]);
    expect(rowCount).toBe(1);
  });

  it('lets a retry take over the key of an attempt whose process died, within seconds', async () => {
    const { keys } = await f.institutionWithKeys(['technician']);
    const key = newKey();
    // The first attempt stalls while writing the key's record (only the first: a sequence is not
    // rolled back), holding the key's lease in its open transaction.
    await f.sql.query('create sequence if not exists stall_once');
    await f.sql.query(`
      create or replace function stall_first_claim() returns trigger language plpgsql as $$
      begin
        if nextval('stall_once') = 1 then perform pg_sleep(60); end if;
        return null;
      end $$`);
    await f.sql.query(`
      create trigger stall_first_claim after insert on idempotency_key for each row
      when (new.key = '${key}') execute function stall_first_claim()`);
    const registration = { barcode: uid('TAKE'), type: 'serum', quantity: 1 };

    const a = await f.start();
    const abandoned = callAs(a, keys.technician)('POST', '/v1/specimens', registration, {
      'idempotency-key': key,
    }).catch((err: unknown) => err);
    await sessionWaiting('PgSleep');
    const b = await f.start();
    await a.kill();
    await abandoned;
    const killedAt = Date.now();
    let answer: Response;
    for (;;) {
      answer = await callAs(b, keys.technician)('POST', '/v1/specimens', registration, {
        'idempotency-key': key,
      });
      if (answer.status !== 409) break;
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      await sleep(Number(answer.headers.get('retry-after')) * 1000);
    }
    const tookOver = Date.now() - killedAt;
    expect(answer.status).toBe(201);
    expect(answer.headers.get('idempotent-replayed')).toBeNull();
    expect(tookOver).toBeLessThan(10_000);
    const { rowCount } = await f.sql.query('select 1 from specimen where barcode = $1', [
      registration.barcode,
    ]);
    expect(rowCount).toBe(1);
    await f.sql.query('drop trigger stall_first_claim on idempotency_key');
  });
});

describe('a key whose holding session was ended', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    t.sql.on('error', () => undefined);
  });
  afterAll(() => t?.close());

  it('is taken over at once after pg_terminate_backend ends the session holding it', async () => {
    const lab = await makeLab(t);
    const key = newKey();
    // The first attempt stalls while writing the key's record, holding the key's lease, uncommitted.
    await t.sql.query('create sequence if not exists stall_terminated');
    await t.sql.query(`
      create or replace function stall_terminated_claim() returns trigger language plpgsql as $$
      begin
        if nextval('stall_terminated') = 1 then perform pg_sleep(60); end if;
        return null;
      end $$`);
    await t.sql.query(`
      create trigger stall_terminated_claim after insert on idempotency_key for each row
      when (new.key = '${key}') execute function stall_terminated_claim()`);
    const registration = { barcode: uid('TERM'), type: 'serum', quantity: 1 };
    const send = () =>
      lab.post('/v1/specimens', registration, { role: 'technician', headers: { 'idempotency-key': key } });
    const first = send();
    const holder = await until(async () => {
      const { rows } = await t.sql.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'`,
      );
      return rows[0]?.pid;
    });
    // While the holder lives, a retry waits for it and is told to come back.
    const waiting = await send();
    expect(waiting.statusCode).toBe(409);
    await t.sql.query('select pg_terminate_backend($1)', [holder]);
    const killedAt = Date.now();
    const lostAttempt = await first;
    expect(lostAttempt.statusCode).toBe(503);
    expect(lostAttempt.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    const retried = await send();
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(Date.now() - killedAt).toBeLessThan(3_000);
    const { rowCount } = await t.sql.query('select 1 from specimen where barcode = $1', [
      registration.barcode,
    ]);
    expect(rowCount).toBe(1);
    const replay = await send();
    expect(replay.headers['idempotent-replayed']).toBe('true');
    await t.sql.query('drop trigger stall_terminated_claim on idempotency_key');
  });
});
