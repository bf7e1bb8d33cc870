import { createHmac, randomBytes } from 'node:crypto';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { DatabaseError } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactedError } from '../src/logger.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 8: a failed statement is logged with its SQL text and the database's message,
// never with its parameters or the row PostgreSQL quotes: a freshly generated webhook secret and a
// donor's pseudonym, diagnoses and MRN hash, written through statements made to fail, are absent
// from every captured log line.

let t: TestApp;
let bank: Awaited<ReturnType<typeof makeInstitution>>;
beforeAll(async () => {
  t = await createTestApp();
  bank = await makeInstitution(t, { roles: ['admin', 'manager'] });
});
afterAll(() => t.close());

/** Makes every `op` on `table` fail inside PostgreSQL with `message` (P0001). */
async function failEvery(table: string, op: 'INSERT' | 'UPDATE', message: string) {
  const fn = `fail_${table}_${op.toLowerCase()}`;
  await t.sql.query(
    `create or replace function ${fn}() returns trigger language plpgsql as $$
       begin raise exception '${message}'; end $$`,
  );
  await t.sql.query(`create trigger ${fn} before ${op} on ${table} for each row execute function ${fn}()`);
  return () => t.sql.query(`drop trigger ${fn} on ${table}`);
}

const logText = () => JSON.stringify(t.logs);
const errorLineOf = (requestId: string) =>
  t.logs.find((l) => l.reqId === requestId && l.msg === 'unhandled error') as
    { err: { message: string; stack: string; query?: string; params?: unknown } } | undefined;

describe('logs of a failed statement', () => {
  it('keep the SQL and the database message but not a webhook secret sent as a parameter', async () => {
    const restore = await failEvery('institution', 'UPDATE', 'institution writes are paused');
    try {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/institutions/${bank.institution.id}`,
        headers: { ...bearer(bank.keys.admin), 'if-match': `W/"${bank.institution.version}"` },
        payload: { webhookUrl: 'https://hooks.example.org/biobank' },
      });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toMatch(/whsec_|paused|update/);
      const line = errorLineOf(res.headers['x-request-id'] as string);
      expect(line?.err.message).toMatch(/^Failed query: update "institution"/);
      expect(line?.err.message).toContain('params: [not logged]');
      expect(line?.err.stack).toContain('institution writes are paused');
      expect(line?.err.params).toBeUndefined();
      expect(logText()).not.toMatch(/whsec_/);
    } finally {
      await restore();
    }
  });

  it("keep out a donor's pseudonym, birth year, diagnoses and MRN hash", async () => {
    const proto = await t.app.inject({
      method: 'POST',
      url: '/v1/protocols',
      headers: bearer(bank.keys.manager),
      payload: { code: `LOG-${randomBytes(3).toString('hex')}`, title: 'Logs', ethicsApprovalRef: 'EC-9' },
    });
    expect(proto.statusCode, proto.body).toBe(201);
    const pseudonym = `DONOR-${randomBytes(6).toString('hex')}`;
    const mrn = `MRN${randomBytes(6).toString('hex')}`;
    const mrnHash = createHmac('sha256', t.config.BIOBANK_SECRET)
      .update(`${bank.institution.id}\n${mrn.toUpperCase()}`)
      .digest('hex');
    const restore = await failEvery('participant', 'INSERT', 'participant writes are paused');
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/participants',
        headers: bearer(bank.keys.manager),
        payload: {
          protocolId: proto.json<{ id: string }>().id,
          protocolParticipantId: pseudonym,
          sex: 'female',
          birthYear: 1937,
          diagnoses: ['C34.1'],
          mrn,
        },
      });
      expect(res.statusCode).toBe(500);
      const line = errorLineOf(res.headers['x-request-id'] as string);
      expect(line?.err.message).toMatch(/^Failed query: insert into "participant"/);
      const text = logText();
      for (const secret of [pseudonym, mrn, mrn.toUpperCase(), mrnHash, 'C34.1', '1937']) {
        expect(text).not.toContain(secret);
      }
    } finally {
      await restore();
    }
  });
});

describe('redactedError', () => {
  it("drops PostgreSQL's detail and a quoted value from the message, also in a cause", () => {
    const pg = new DatabaseError('invalid input syntax for type uuid: "DONOR-42"', 0, 'error');
    pg.detail = 'Failing row contains (DONOR-42, 1937).';
    pg.code = '22P02';
    const wrapped = new DrizzleQueryError('select $1', ['DONOR-42'], pg);
    const safe = redactedError(wrapped);
    const cause = safe.cause as DatabaseError;
    expect(JSON.stringify({ ...safe, message: safe.message, stack: safe.stack })).not.toContain('DONOR-42');
    expect(cause.message).toBe('invalid input syntax for type uuid: "[not logged]"');
    expect(cause.detail).toBeUndefined();
    expect(cause.code).toBe('22P02');
    expect(cause.stack).not.toContain('DONOR-42');
    // The original is untouched: the error handler still classifies it.
    expect(wrapped.params).toEqual(['DONOR-42']);
  });
});
