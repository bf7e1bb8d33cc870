import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/api-keys.service.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';
import { createProcessFixture, type ProcessFixture } from './helpers/process-fixture.js';
import { sleep, type ServerProcess } from './helpers/server-process.js';

// Finding 1 of the reliability review: a lost PostgreSQL connection is one failed request
// (503 DATABASE_UNAVAILABLE with Retry-After), never the end of the process.

describe('a database session terminated mid-transaction', () => {
  let f: ProcessFixture;
  let server: ServerProcess;

  beforeAll(async () => {
    f = await createProcessFixture();
    server = await f.start({ WORKERS: '1' });
  });
  afterAll(() => f?.close());

  async function institutionWithKeys() {
    const { keys } = await f.institutionWithKeys(['admin', 'technician']);
    return { adminToken: keys.admin, technicianToken: keys.technician };
  }

  const call = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { ...bearer(token), ...init.headers } });

  /** The server's session blocked on a lock the test holds (its transaction is open). */
  async function blockedSession(): Promise<number> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await f.sql.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = current_database() and application_name = 'biobank'
            and wait_event_type = 'Lock' and state = 'active'`,
      );
      if (rows[0]) return rows[0].pid;
      if (Date.now() > deadline) throw new Error('the request never blocked');
      await sleep(25);
    }
  }

  it('answers that request 503 DATABASE_UNAVAILABLE with Retry-After, stays up and serves the next', async () => {
    const { adminToken, technicianToken } = await institutionWithKeys();
    const { rows } = await f.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
      hashToken(technicianToken),
    ]);
    const target = rows[0]!.id;

    const lock = await f.sql.connect();
    let answer: Response;
    try {
      await lock.query('begin');
      await lock.query('select 1 from api_key where id = $1 for update', [target]);
      const inFlight = call(`/v1/api-keys/${target}/revoke`, adminToken, { method: 'POST' });
      const pid = await blockedSession();
      await f.sql.query('select pg_terminate_backend($1)', [pid]);
      answer = await inFlight;
    } finally {
      await lock.query('rollback');
      lock.release();
    }

    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('2');
    expect(await answer.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryAfter: 2 });
    // Nothing committed: the key is still active.
    const after = await f.sql.query('select revoked_at from api_key where id = $1', [target]);
    expect(after.rows[0]).toEqual({ revoked_at: null });

    await sleep(200);
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    const next = await call('/v1/api-keys', adminToken);
    expect(next.status).toBe(200);
    const retried = await call(`/v1/api-keys/${target}/revoke`, adminToken, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(server.output()).not.toMatch(/uncaught|shutting down after an error/i);
  });

  it('survives the termination of every server session, idle or busy, and serves again', async () => {
    const { adminToken } = await institutionWithKeys();
    // Keep requests flowing while every session of the server is terminated twice.
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) {
        const res = await call('/v1/api-keys', adminToken).catch(() => undefined);
        if (res) {
          statuses.push(res.status);
          await res.arrayBuffer();
        }
      }
    })();
    for (let round = 0; round < 2; round++) {
      await sleep(300);
      await f.sql.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name like 'biobank%'`,
      );
    }
    await sleep(300);
    stop = true;
    await load;
    expect(server.child.exitCode).toBeNull();
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect((await call('/v1/api-keys', adminToken)).status).toBe(200);
    // The outbox relay listens again on a connection of its own.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rowCount } = await f.sql.query(
        `select 1 from pg_stat_activity where datname = current_database()
            and application_name = 'biobank-relay' and query = 'LISTEN biobank_outbox'`,
      );
      if (rowCount === 1) break;
      if (Date.now() > deadline) throw new Error('the outbox relay did not listen again');
      await sleep(100);
    }
  });
});

/**
 * A stand-in for a PostgreSQL server that is starting up: it answers every connection's startup
 * message as PostgreSQL does then, with FATAL 57P03, and closes it.
 */
function startingUpServer(): Promise<{ server: Server; port: number }> {
  const field = (type: string, value: string) =>
    Buffer.concat([Buffer.from(type), Buffer.from(`${value}\0`)]);
  const body = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P03'),
    field('M', 'the database system is starting up'),
    Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  const message = Buffer.concat([Buffer.from('E'), length, body]);
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      socket.once('data', () => socket.end(message));
      socket.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

describe('a database that is not accepting connections', () => {
  let t: TestApp;
  let fake: { server: Server; port: number };

  beforeAll(async () => {
    fake = await startingUpServer();
    t = await createTestApp({
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${fake.port}/biobank` },
    });
  });
  afterAll(async () => {
    await t?.close();
    fake?.server.close();
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After while PostgreSQL is starting up', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer('bbk_x') });
    // An ill-formed token is refused before any query: a well-formed one asks the database.
    expect(res.statusCode).toBe(401);
    const token = `bbk_${'a'.repeat(10)}_${'b'.repeat(43)}`;
    const asked = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(token) });
    expect(asked.statusCode).toBe(503);
    expect(asked.headers['retry-after']).toBe('2');
    expect(asked.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
  });

  it('answers GraphQL with extensions.code DATABASE_UNAVAILABLE and retryAfter', async () => {
    const token = `bbk_${'c'.repeat(10)}_${'d'.repeat(43)}`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(token),
      payload: { query: '{ __typename }' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toMatchObject({
      errors: [{ extensions: { code: 'DATABASE_UNAVAILABLE', retryAfter: 2 } }],
    });
  });
});
