import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLab, uid, type Lab } from './helpers/inventory.js';
import { bearer, createTestApp, until, type TestApp } from './helpers/test-app.js';

// GraphQL mutations take the Idempotency-Key header as REST POSTs do: the same key with the same
// document and variables answers the first result without a second effect; the same key with
// another request is IDEMPOTENCY_KEY_REUSED; while the first runs, IDEMPOTENCY_KEY_IN_USE.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const newKey = () => `gql-${randomBytes(8).toString('hex')}`;

interface GqlBody {
  data: Record<string, { id: string; barcode: string; version: number }> | null;
  errors?: { message: string; extensions: { code: string; status?: number } }[];
}

function gql(
  query: string,
  variables: Record<string, unknown>,
  key?: string,
  token = lab.keys.integration,
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...bearer(token), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: { query, variables },
  });
}

const REGISTER = `mutation ($i: RegisterSpecimenInput!) { registerSpecimen(input: $i) { id barcode version } }`;

async function specimensWithBarcode(barcode: string) {
  const { rows } = await t.sql.query<{ id: string }>(
    'select id from specimen where institution_id = $1 and barcode = $2',
    [lab.institution.id, barcode],
  );
  return rows;
}

async function stored(key: string) {
  const { rows } = await t.sql.query<{ response_status: number | null; response_body: unknown }>(
    'select response_status, response_body from idempotency_key where key = $1',
    [key],
  );
  return rows;
}

describe('Idempotency-Key on GraphQL mutations', () => {
  it('replays the first answer with Idempotent-Replayed: true and registers one specimen', async () => {
    const key = newKey();
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    // Fields selected in an order of their own: the replay keeps it, byte for byte.
    const register = `mutation ($i: RegisterSpecimenInput!) { registerSpecimen(input: $i) { version barcode id } }`;
    const first = await gql(register, { i: input }, key);
    expect(first.statusCode).toBe(200);
    expect(first.json<GqlBody>().errors).toBeUndefined();
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await gql(register, { i: input }, key);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(Object.keys(again.json<GqlBody>().data!.registerSpecimen!)).toEqual(['version', 'barcode', 'id']);
    const rows = await specimensWithBarcode(input.barcode);
    expect(rows).toHaveLength(1);
    const audit = await t.sql.query('select 1 from audit_log where entity_id = $1::text', [rows[0]!.id]);
    expect(audit.rowCount).toBe(1);
    // Claimed by the registration's own transaction, then answered.
    expect(await stored(key)).toEqual([{ response_status: 200, response_body: first.json<unknown>() }]);
  });

  it('answers five identical keyed mutations sent at once with one effect, logging no error', async () => {
    const key = newKey();
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    const logged = t.logs.length;
    const answers = await Promise.all(Array.from({ length: 5 }, () => gql(REGISTER, { i: input }, key)));
    const rows = await specimensWithBarcode(input.barcode);
    expect(rows).toHaveLength(1);
    // Each the first answer: the others waited for it, even when they met its commit before it
    // was answered.
    for (const a of answers) {
      expect(a.statusCode, a.body).toBe(200);
      expect(a.json<GqlBody>().data?.registerSpecimen?.id).toBe(rows[0]!.id);
    }
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(4);
    const errors = t.logs.slice(logged).filter((l) => Number(l.level) >= 50);
    expect(errors).toEqual([]);
  });

  it('waits for the answer of a mutation whose effect committed before it was answered, then replays it', async () => {
    const key = newKey();
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    const first = await gql(REGISTER, { i: input }, key);
    expect(first.statusCode).toBe(200);
    // Back to the instant between the commit and the answer: the marker the transaction wrote.
    const [answer] = await stored(key);
    await t.sql.query(
      `update idempotency_key set response_status = 202, response_body = '{"graphqlAnswerPending": true}' where key = $1`,
      [key],
    );
    let settled = false;
    const retry = gql(REGISTER, { i: input }, key).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).toBe(false);
    await t.sql.query('update idempotency_key set response_status = $2, response_body = $3 where key = $1', [
      key,
      answer!.response_status,
      JSON.stringify(answer!.response_body),
    ]);
    const replayed = await retry;
    expect(replayed.statusCode).toBe(200);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.json()).toEqual(first.json());
    expect(await specimensWithBarcode(input.barcode)).toHaveLength(1);
  });

  it("never stores a new API key's token for replay: the replay answers it null, as REST does", async () => {
    const key = newKey();
    const create = `mutation { createApiKey(input: { name: "${uid('K')}", role: technician }) { token apiKey { id } } }`;
    const first = await gql(create, {}, key, lab.keys.admin);
    const created = first.json<{ data: { createApiKey: { token: string; apiKey: { id: string } } } }>().data
      .createApiKey;
    expect(created.token).toMatch(/^bbk_/);
    const replay = await gql(create, {}, key, lab.keys.admin);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({
      data: { createApiKey: { token: null, apiKey: { id: created.apiKey.id } } },
    });
    expect(JSON.stringify(await stored(key))).not.toContain(created.token);
    // Asked under another name, it is not stored either.
    const aliasKey = newKey();
    const aliased = `mutation { createApiKey(input: { name: "${uid('K')}", role: technician }) { secret: token } }`;
    const token = (await gql(aliased, {}, aliasKey, lab.keys.admin)).json<{
      data: { createApiKey: { secret: string } };
    }>().data.createApiKey.secret;
    expect(token).toMatch(/^bbk_/);
    expect(JSON.stringify(await stored(aliasKey))).not.toContain(token);
    const again = await gql(aliased, {}, aliasKey, lab.keys.admin);
    expect(again.json()).toEqual({ data: { createApiKey: { secret: null } } });
  });

  it('refuses the same key with other variables as REST does: IDEMPOTENCY_KEY_REUSED (422), nothing done', async () => {
    const key = newKey();
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    expect((await gql(REGISTER, { i: input }, key)).statusCode).toBe(200);
    const other = { ...input, barcode: uid('S') };
    const res = await gql(REGISTER, { i: other }, key);
    expect(res.statusCode).toBe(422);
    expect(res.json<GqlBody>()).toMatchObject({
      data: null,
      errors: [{ extensions: { code: 'IDEMPOTENCY_KEY_REUSED', status: 422 } }],
    });
    expect(await specimensWithBarcode(other.barcode)).toHaveLength(0);
  });

  it('releases the key of a mutation refused before anything committed, so a retry runs again', async () => {
    const key = newKey();
    const taken = await lab.register();
    const input = { barcode: taken.barcode, type: 'serum', quantity: 1 };
    const refused = await gql(REGISTER, { i: input }, key);
    expect(refused.json<GqlBody>().errors?.[0]?.extensions.code).toBe('BARCODE_TAKEN');
    expect(await stored(key)).toEqual([]);
    const retried = await gql(REGISTER, { i: input }, key);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.json<GqlBody>().errors?.[0]?.extensions.code).toBe('BARCODE_TAKEN');
  });

  it('answers IDEMPOTENCY_KEY_IN_USE while the first mutation with the key runs, then replays it', async () => {
    const specimen = await lab.register();
    const key = newKey();
    const update = `mutation ($id: ID!, $v: Int!) {
      updateSpecimen(id: $id, expectedVersion: $v, input: { anatomicSite: "vein" }) { id barcode version } }`;
    const lock = await t.sql.connect();
    let first: Promise<LightMyRequestResponse> | undefined;
    try {
      // Hold the specimen row so the first update waits inside its transaction.
      await lock.query('begin');
      await lock.query('select 1 from specimen where id = $1 for update', [specimen.id]);
      first = gql(update, { id: specimen.id, v: specimen.version }, key);
      await until(async () => {
        const { rowCount } = await t.sql.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%specimen%for update%'",
        );
        return rowCount === 1;
      });
      // The claim is the first mutation's uncommitted row: nothing is visible yet.
      expect(await stored(key)).toEqual([]);
      const concurrent = await gql(update, { id: specimen.id, v: specimen.version }, key);
      expect(concurrent.statusCode).toBe(409);
      expect(concurrent.json<GqlBody>().errors?.[0]?.extensions.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    } finally {
      await lock.query('rollback');
      lock.release();
    }
    const done = await first;
    expect(done.json<GqlBody>().data?.updateSpecimen?.version).toBe(specimen.version + 1);
    const replay = await gql(update, { id: specimen.id, v: specimen.version }, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(done.json());
    const audit = await t.sql.query(
      "select 1 from audit_log where entity_id = $1::text and action = 'updateSpecimen'",
      [specimen.id],
    );
    expect(audit.rowCount).toBe(1);
  });

  it('replays an upsert as the first answered it, and ignores the header on queries', async () => {
    const key = newKey();
    const upsert = `mutation ($v: String!, $i: RegisterSpecimenInput!) {
      upsertSpecimen(system: "LIS", value: $v, input: $i) { created specimen { id version } } }`;
    const vars = { v: uid('ACC'), i: { barcode: uid('S'), type: 'plasma', quantity: 2 } };
    const first = await gql(upsert, vars, key);
    expect(first.json()).toMatchObject({ data: { upsertSpecimen: { created: true } } });
    const replay = await gql(upsert, vars, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
    const queryKey = newKey();
    const read = await gql('query { viewer { role } }', {}, queryKey);
    expect(read.json()).toMatchObject({ data: { viewer: { role: 'integration' } } });
    expect(await stored(queryKey)).toEqual([]);
  });

  it('refuses a malformed key with INVALID_IDEMPOTENCY_KEY (400) before running anything', async () => {
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    const res = await gql(REGISTER, { i: input }, 'has spaces');
    expect(res.statusCode).toBe(400);
    expect(res.json<GqlBody>().errors?.[0]?.extensions.code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(await specimensWithBarcode(input.barcode)).toHaveLength(0);
  });
});

describe('Idempotency-Key on a GraphQL mutation whose process died between its commit and its answer', () => {
  let short: TestApp;
  let shortLab: Lab;
  beforeAll(async () => {
    short = await createTestApp({ env: { IDEMPOTENCY_WAIT_MS: '300' } });
    shortLab = await makeLab(short);
  });
  afterAll(() => short.close());

  it('answers IDEMPOTENCY_KEY_IN_USE after the wait, and never runs the mutation again', async () => {
    const key = newKey();
    const input = { barcode: uid('S'), type: 'serum', quantity: 1 };
    const send = () =>
      short.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { ...bearer(shortLab.keys.integration), 'idempotency-key': key },
        payload: { query: REGISTER, variables: { i: input } },
      });
    expect((await send()).statusCode).toBe(200);
    // The answer never replaced the marker the transaction committed with the effect.
    await short.sql.query(
      `update idempotency_key set response_status = 202, response_body = '{"graphqlAnswerPending": true}' where key = $1`,
      [key],
    );
    const started = Date.now();
    const retry = await send();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(retry.statusCode).toBe(409);
    expect(retry.headers['retry-after']).toBe('1');
    expect(retry.json<GqlBody>().errors?.[0]?.extensions.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    const { rows } = await short.sql.query('select 1 from specimen where barcode = $1', [input.barcode]);
    expect(rows).toHaveLength(1);
  });
});
