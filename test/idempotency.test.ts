import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/api-keys.service.js';
import type { Ctx } from '../src/context.js';
import { inTransaction } from '../src/db/transaction.js';
import {
  purgeExpiredIdempotencyKeys,
  requestHashOf,
  runIdempotent,
  type IdempotencyScope,
} from '../src/http/idempotency.js';
import { purgeIdempotencyKeysJob } from '../src/jobs/maintenance.jobs.js';
import { makeLab } from './helpers/inventory.js';
import { bearer, createTestApp, makeInstitution, systemCtx, type TestApp } from './helpers/test-app.js';

let t: TestApp;
let operator: Awaited<ReturnType<typeof makeInstitution>>;

beforeAll(async () => {
  t = await createTestApp();
  // Dropping the database at close() can terminate t.sql's clients while they end (pg-pool
  // resolves end() before its clients close): a pool with no error listener rethrows that.
  t.sql.on('error', () => undefined);
  operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
});
afterAll(() => t.close());

const newKey = () => `key-${randomBytes(8).toString('hex')}`;
const uniqueCode = () => `ID${randomBytes(4).toString('hex').toUpperCase()}`;

/** Polls until `check` returns a value other than undefined, null or false; fails after `ms`. */
async function until<T>(check: () => Promise<T | undefined | null | false>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function apiKeyId(token: string): Promise<string> {
  const { rows } = await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
    hashToken(token),
  ]);
  return rows[0]!.id;
}

interface StoredKey {
  api_key_id: string;
  key: string;
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
  expires_at: Date;
}

async function storedKeys(key: string): Promise<StoredKey[]> {
  const { rows } = await t.sql.query<StoredKey>('select * from idempotency_key where key = $1', [key]);
  return rows;
}

function post(url: string, token: string, key: string | undefined, payload?: unknown) {
  return t.app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(token), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

describe('Idempotency-Key on POST', () => {
  it('replays the first response with Idempotent-Replayed: true and creates one row only', async () => {
    const key = newKey();
    const body = { code: uniqueCode(), name: 'Replayed Biobank', kind: 'biobank' };
    const first = await post('/v1/institutions', operator.keys.admin, key, body);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const second = await post('/v1/institutions', operator.keys.admin, key, body);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());

    const { rows } = await t.sql.query<{ id: string }>('select id from institution where code = $1', [
      body.code,
    ]);
    expect(rows).toEqual([{ id: first.json<{ id: string }>().id }]);
    const audit = await t.sql.query('select 1 from audit_log where entity_id = $1', [rows[0]!.id]);
    expect(audit.rowCount).toBe(1);
    const [stored] = await storedKeys(key);
    expect(stored).toMatchObject({
      response_status: 201,
      response_body: first.json<unknown>(),
    });
  });

  it('keeps a key and an answer with quotes and backslashes exactly as sent', async () => {
    const key = `it's\\a'--;${randomBytes(4).toString('hex')}\\'`;
    const body = { code: uniqueCode(), name: `O'Brien \\ "Lab" ';--`, kind: 'biobank' };
    const first = await post('/v1/institutions', operator.keys.admin, key, body);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ name: body.name });
    const again = await post('/v1/institutions', operator.keys.admin, key, body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const [stored] = await storedKeys(key);
    expect(stored).toMatchObject({ key, response_body: first.json<unknown>() });
    const { rowCount } = await t.sql.query('select 1 from institution where code = $1', [body.code]);
    expect(rowCount).toBe(1);
  });

  it('replays a created API key, whose service returns more than its transaction did', async () => {
    const key = newKey();
    const name = `replayed key ${key}`;
    const first = await post('/v1/api-keys', operator.keys.admin, key, { name, role: 'technician' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      name,
      role: 'technician',
      token: expect.stringMatching(/^bbk_/) as unknown,
    });
    const second = await post('/v1/api-keys', operator.keys.admin, key, { name, role: 'technician' });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    // The token is never stored, not even with the idempotent response: a replay answers null.
    expect(second.json()).toEqual({ ...first.json<Record<string, unknown>>(), token: null });
    const { rowCount } = await t.sql.query('select 1 from api_key where name = $1', [name]);
    expect(rowCount).toBe(1);
    const stored = await t.sql.query<{ body: string }>(
      'select response_body::text as body from idempotency_key where key = $1',
      [key],
    );
    expect(stored.rows[0]!.body).not.toContain(first.json<{ token: string }>().token);
  });

  it('replays a ledger write the service would apply again, and applies it once', async () => {
    const lab = await makeLab(t);
    const box = await lab.box();
    const tube = await lab.register({ containerId: box.id, position: 'A1', quantity: 3 });
    const key = newKey();
    const consume = () =>
      lab.post(`/v1/specimens/${tube.id}/consume`, { quantity: 1 }, { headers: { 'idempotency-key': key } });
    const first = await consume();
    expect(first.statusCode, first.body).toBe(200);
    // The tube still holds enough: only the key's record tells the retry apart from a new use.
    const again = await consume();
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const { rows } = await t.sql.query<{ quantity: string; consumed: number }>(
      `select s.available_quantity::float8::text as quantity,
              (select count(*)::int from custody_event e where e.specimen_id = s.id and e.type = 'consumed') as consumed
         from specimen s where s.id = $1`,
      [tube.id],
    );
    expect(rows).toEqual([{ quantity: '2', consumed: 1 }]);
  });

  it('refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const key = newKey();
    const first = await post('/v1/institutions', operator.keys.admin, key, {
      code: uniqueCode(),
      name: 'First',
      kind: 'biobank',
    });
    expect(first.statusCode).toBe(201);
    const otherCode = uniqueCode();
    const reused = await post('/v1/institutions', operator.keys.admin, key, {
      code: otherCode,
      name: 'Second',
      kind: 'biobank',
    });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const { rowCount } = await t.sql.query('select 1 from institution where code = $1', [otherCode]);
    expect(rowCount).toBe(0);
    // The first response is still the one stored.
    const [stored] = await storedKeys(key);
    expect(stored?.response_body).toEqual(first.json());
  });

  it('makes a second request with the key wait for the first, then replays its answer', async () => {
    const { keys } = await makeInstitution(t, { roles: ['admin', 'technician'] });
    const target = await apiKeyId(keys.technician);
    const key = newKey();
    const url = `/v1/api-keys/${target}/revoke`;

    const lock = await t.sql.connect();
    let first: ReturnType<typeof post> | undefined;
    let concurrent: ReturnType<typeof post> | undefined;
    try {
      // Hold the API key row so the first revoke blocks inside its transaction, holding the key.
      await lock.query('begin');
      await lock.query('select 1 from api_key where id = $1 for update', [target]);
      first = post(url, keys.admin, key);
      await until(async () => {
        const { rowCount } = await t.sql.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%api_key%for update%'",
        );
        return rowCount === 1;
      });
      // The second attempt waits on the first one's claim of the key.
      concurrent = post(url, keys.admin, key);
      await until(async () => {
        const { rowCount } = await t.sql.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%idempotency_key%'",
        );
        return rowCount === 1;
      });
    } finally {
      await lock.query('rollback');
      lock.release();
    }

    const done = await first;
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ id: target, revokedAt: expect.any(String) as unknown });
    const waited = await concurrent;
    expect(waited.statusCode).toBe(200);
    expect(waited.headers['idempotent-replayed']).toBe('true');
    expect(waited.json()).toEqual(done.json());
    const replay = await post(url, keys.admin, key);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(done.json());
    const audit = await t.sql.query(
      "select 1 from audit_log where entity_id = $1 and action = 'revokeApiKey'",
      [target],
    );
    expect(audit.rowCount).toBe(1);
  });

  it('scopes keys to the API key: the same key from another API key runs separately', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin'] });
    const { token: secondAdmin } = await t.c.services.apiKeys.createApiKey(systemCtx(t.c), {
      institutionId: institution.id,
      role: 'admin',
      name: 'second admin',
    });
    const key = newKey();
    const name = `scoped ${key}`;
    const a = await post('/v1/api-keys', keys.admin, key, { name, role: 'manager' });
    const b = await post('/v1/api-keys', secondAdmin, key, { name, role: 'manager' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json<{ id: string }>().id).not.toBe(a.json<{ id: string }>().id);
    const { rowCount } = await t.sql.query('select 1 from api_key where name = $1', [name]);
    expect(rowCount).toBe(2);
    expect((await storedKeys(key)).map((k) => k.api_key_id).sort()).toEqual(
      [await apiKeyId(keys.admin), await apiKeyId(secondAdmin)].sort(),
    );
  });

  it('stores nothing for a request that fails with 4xx, so a retry with the same key runs again', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin'] });
    const key = newKey();
    const refused = await post('/v1/webhook-deliveries/ping', keys.admin, key);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'WEBHOOK_NOT_CONFIGURED' });
    // Released before the error was answered.
    expect(await storedKeys(key)).toEqual([]);

    const configure = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${institution.id}`,
      headers: { ...bearer(keys.admin), 'if-match': 'W/"1"' },
      payload: { webhookUrl: 'http://127.0.0.1:9/unreachable' },
    });
    expect(configure.statusCode).toBe(200);
    const retried = await post('/v1/webhook-deliveries/ping', keys.admin, key);
    expect(retried.statusCode).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    const delivery = retried.json<{ id: string; eventType: string }>();
    expect(delivery.eventType).toBe('webhook.ping');
    const [stored] = await storedKeys(key);
    expect(stored).toMatchObject({ response_status: 202, response_body: delivery });

    const replay = await post('/v1/webhook-deliveries/ping', keys.admin, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(delivery);
    const { rowCount } = await t.sql.query('select 1 from webhook_delivery where institution_id = $1', [
      institution.id,
    ]);
    expect(rowCount).toBe(1);
  });

  it('stores the response in the same transaction as the effect: a failed commit stores neither', async () => {
    const key = newKey();
    const code = uniqueCode();
    // Fails the commit of the request holding this key, after the effect and the stored response.
    await t.sql.query(`
      create or replace function test_fail_at_commit() returns trigger language plpgsql as $$
      begin raise exception 'injected failure at commit'; end $$`);
    await t.sql.query(`
      create constraint trigger idempotency_fail_at_commit after insert or update on idempotency_key
      deferrable initially deferred for each row
      when (new.key = '${key}' and new.response_status is not null) execute function test_fail_at_commit()`);
    try {
      const failed = await post('/v1/institutions', operator.keys.admin, key, {
        code,
        name: 'Fails At Commit',
        kind: 'biobank',
      });
      expect(failed.statusCode).toBe(500);
      expect((await t.sql.query('select 1 from institution where code = $1', [code])).rowCount).toBe(0);
      expect(await storedKeys(key)).toEqual([]);
    } finally {
      await t.sql.query('drop trigger idempotency_fail_at_commit on idempotency_key');
    }
    const retried = await post('/v1/institutions', operator.keys.admin, key, {
      code,
      name: 'Fails At Commit',
      kind: 'biobank',
    });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect((await t.sql.query('select 1 from institution where code = $1', [code])).rowCount).toBe(1);
  });

  it('hands the stored response to the transaction that commits, not to one that rolled back or ran inside', async () => {
    const calls: unknown[] = [];
    const ctx: Ctx = {
      ...systemCtx(t.c),
      commitHook: {
        beginStatement: (requestId) => ({
          text: "select set_config('biobank.request_id', $1, true)",
          values: [requestId],
        }),
        async begun() {
          calls.push('begin');
        },
        commitStatement(result) {
          calls.push(result);
          return { text: 'select 1' };
        },
        refused: () => Promise.reject(new Error('not refused')),
      },
    };
    await expect(
      inTransaction(t.c.db, ctx, async () => {
        throw new Error('serialization failure');
      }),
    ).rejects.toThrow('serialization failure');
    expect(ctx.commitHook).toBeDefined();
    const result = await inTransaction(t.c.db, ctx, async () => {
      // A transaction opened while the request's transaction runs does not carry its response.
      await inTransaction(t.c.db, ctx, async () => 'inner');
      return 'outer';
    });
    expect(result).toBe('outer');
    expect(calls).toEqual(['begin', 'begin', 'outer']);
    expect(ctx.commitHook).toBeUndefined();
  });

  describe('an answer committed under the key after the claim read none', () => {
    // What a second attempt meets when the first committed between the claim's snapshot and its
    // lease: the effect is written, then the record's INSERT finds the key taken.
    async function attempt(scope: IdempotencyScope, committedHash: string) {
      await t.sql.query('create table if not exists slipped_effect (key text)');
      const run = (ctx: Ctx) =>
        inTransaction(t.c.db, ctx, async (tx) => {
          await tx.execute(sql`insert into slipped_effect values (${scope.key})`);
          await t.sql.query(
            `insert into idempotency_key (api_key_id, key, request_hash, method, path, response_status,
                                          response_body, expires_at)
             values ($1, $2, $3, 'POST', '/v1/things', 201, '{"first":true}', now() + interval '1 hour')`,
            [scope.apiKeyId, scope.key, committedHash],
          );
          return { second: true };
        });
      const outcome = await runIdempotent(
        t.c.db,
        systemCtx(t.c),
        scope,
        { status: 201, toBody: (r) => r },
        run,
      );
      return outcome;
    }
    const effects = async (key: string) =>
      (await t.sql.query('select 1 from slipped_effect where key = $1', [key])).rowCount;

    it('replays that answer and rolls its own effect back', async () => {
      const key = newKey();
      const requestHash = requestHashOf('POST', '/v1/things', { a: 1 });
      const scope = {
        apiKeyId: await apiKeyId(operator.keys.admin),
        key,
        requestHash,
        method: 'POST',
        path: '/v1/things',
        waitMs: 1000,
      };
      await expect(attempt(scope, requestHash)).resolves.toEqual({
        status: 201,
        body: { first: true },
        replayed: true,
      });
      expect(await effects(key)).toBe(0);
      expect((await storedKeys(key)).map((k) => k.response_body)).toEqual([{ first: true }]);
    });

    it('refuses with IDEMPOTENCY_KEY_REUSED when that answer is to another request', async () => {
      const key = newKey();
      const scope = {
        apiKeyId: await apiKeyId(operator.keys.admin),
        key,
        requestHash: requestHashOf('POST', '/v1/things', { a: 1 }),
        method: 'POST',
        path: '/v1/things',
        waitMs: 1000,
      };
      await expect(attempt(scope, requestHashOf('POST', '/v1/things', { a: 2 }))).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await effects(key)).toBe(0);
    });
  });

  it('keeps a record for 24 hours', async () => {
    const key = newKey();
    const res = await post('/v1/institutions', operator.keys.admin, key, {
      code: uniqueCode(),
      name: 'Kept A Day',
      kind: 'biobank',
    });
    expect(res.statusCode).toBe(201);
    const { rows } = await t.sql.query<{ seconds: number }>(
      'select extract(epoch from expires_at - created_at)::float8 as seconds from idempotency_key where key = $1',
      [key],
    );
    expect(rows[0]!.seconds).toBeCloseTo(24 * 3600, -1);
  });

  it.each([
    ['longer than 255 characters', 'k'.repeat(300)],
    ['containing spaces', 'my key 1'],
    ['containing non-ASCII characters', 'clé-1'],
  ])('refuses a key %s with 400 and runs nothing', async (_what, key) => {
    const code = uniqueCode();
    const res = await post('/v1/institutions', operator.keys.admin, key, {
      code,
      name: 'Bad Key',
      kind: 'biobank',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect((await t.sql.query('select 1 from institution where code = $1', [code])).rowCount).toBe(0);
  });
});

describe('purging idempotency records', () => {
  async function seed(prefix: string) {
    const apiKey = await apiKeyId(operator.keys.admin);
    const insert = (key: string, expires: string) =>
      t.sql.query(
        `insert into idempotency_key (api_key_id, key, request_hash, method, path, response_status, expires_at)
         values ($1, $2, repeat('0', 64), 'POST', '/v1/institutions', 201, now() + $3::interval)`,
        [apiKey, key, expires],
      );
    await insert(`${prefix}-expired-1`, '-1 hour');
    await insert(`${prefix}-expired-2`, '-1 second');
    await insert(`${prefix}-live`, '1 hour');
  }
  const remaining = async (prefix: string) =>
    (
      await t.sql.query<{ key: string }>('select key from idempotency_key where key like $1 order by key', [
        `${prefix}-%`,
      ])
    ).rows.map((r) => r.key);

  it('deletes expired records only', async () => {
    const prefix = newKey();
    await seed(prefix);
    expect(await purgeExpiredIdempotencyKeys(t.c.db)).toBeGreaterThanOrEqual(2);
    expect(await remaining(prefix)).toEqual([`${prefix}-live`]);
  });

  it('runs as the maintenance.purgeIdempotencyKeys job', async () => {
    const prefix = newKey();
    await seed(prefix);
    const job = t.c.registry.get(purgeIdempotencyKeysJob.name);
    expect(job?.contract.queue).toBe('maintenance');
    const result = await job!.handle(
      systemCtx(t.c),
      { requestId: 'test-purge' },
      { id: 'test-purge', attemptsMade: 0, progress: async () => undefined },
    );
    expect(result).toEqual({ purged: 2 });
    expect(await remaining(prefix)).toEqual([`${prefix}-live`]);
  });
});
