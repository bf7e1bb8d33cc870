import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { parseConfig, type Config } from '../src/config.js';
import { createContainer } from '../src/container.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, dropQueueKeys, dropTestDatabase, systemCtx } from './helpers/test-app.js';
import { databaseUrl } from './helpers/urls.js';

// Graceful shutdown of the real process (DESIGN.md section 1, STYLE.md rule 20): on SIGTERM the
// server stops accepting, lets the request in flight finish, closes everything and exits 0; a
// second signal exits at once.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'shutdown-test-secret-of-at-least-32-chars';

let dbName: string;
let url: string;
let prefix: string;
let container: ReturnType<typeof createContainer>;

beforeAll(async () => {
  dbName = await createTestDatabase();
  url = databaseUrl(dbName);
  prefix = `bbtest-shut-${randomBytes(4).toString('hex')}`;
  const config: Config = {
    ...parseConfig({ DATABASE_URL: url, QUEUE_PREFIX: prefix, WORKERS: '0', LOG_LEVEL: 'silent' }),
    BIOBANK_SECRET: SECRET,
  };
  container = createContainer(config, createLogger('silent'));
});

afterAll(async () => {
  await container.close();
  await dropQueueKeys(parseConfig({}).REDIS_URL, prefix);
  await dropTestDatabase(dbName);
});

/** An institution of the test's own and an admin key for it, made through the services. */
async function makeInstitution(): Promise<{ institutionId: string; adminToken: string }> {
  const ctx = systemCtx(container);
  const code = `SHUT${randomBytes(3).toString('hex').toUpperCase()}`;
  const institution = await container.services.institutions.createInstitution(ctx, {
    code,
    name: 'Shutdown Biobank',
    kind: 'biobank',
  });
  const { token } = await container.services.apiKeys.createApiKey(ctx, {
    institutionId: institution.id,
    role: 'admin',
    name: 'shutdown test',
  });
  return { institutionId: institution.id, adminToken: token };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Server {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: url,
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKERS: '0',
    BIOBANK_SECRET: SECRET,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: '15000',
  };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST')) delete env[key];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Generous: tsx compiles the server at start, and CI runs test files side by side on 2 cores.
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await sleep(100);
  }
  return { child, port, output: () => output, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the connection error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/** Holds the institution row lock from another connection until released. */
async function lockInstitution(institutionId: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query('select id from institution where id = $1 for update', [institutionId]);
  return {
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

async function currentVersion(institutionId: string): Promise<{ name: string; version: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; version: number }>(
      'select name, version from institution where id = $1',
      [institutionId],
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

function patch(
  port: number,
  target: { institutionId: string; adminToken: string },
  name: string,
  version: number,
) {
  return fetch(`http://127.0.0.1:${port}/v1/institutions/${target.institutionId}`, {
    method: 'PATCH',
    headers: {
      authorization: `Bearer ${target.adminToken}`,
      'content-type': 'application/json',
      'if-match': `W/"${version}"`,
    },
    body: JSON.stringify({ name }),
  });
}

// Each test has its own server process and institution, so the two run side by side.
describe.concurrent('SIGTERM', () => {
  it('lets a slow request finish, refuses new connections meanwhile, and exits 0', async ({ expect }) => {
    const target = await makeInstitution();
    const server = await startServer();
    const lock = await lockInstitution(target.institutionId);
    let released = false;
    try {
      const { version } = await currentVersion(target.institutionId);
      let settled = false;
      const inFlight = patch(server.port, target, 'Renamed during shutdown', version).finally(() => {
        settled = true;
      });
      await sleep(300);
      expect(settled).toBe(false); // blocked on the row lock

      server.child.kill('SIGTERM');
      await sleep(250);
      expect(await tryConnect(server.port)).toBe('ECONNREFUSED');
      expect(settled).toBe(false);
      expect(server.child.exitCode).toBeNull();

      await sleep(250);
      await lock.release();
      released = true;

      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe(`W/"${version + 1}"`);
      expect(((await res.json()) as { name: string }).name).toBe('Renamed during shutdown');

      const exit = await server.exited;
      expect(exit, server.output()).toEqual({ code: 0, signal: null });
      expect(await currentVersion(target.institutionId)).toEqual({
        name: 'Renamed during shutdown',
        version: version + 1,
      });
      expect(server.output()).toMatch(/"msg":"shutting down"/);
    } finally {
      if (!released) await lock.release();
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 90_000);

  it('exits at once with code 1 on a second signal, leaving the blocked write undone', async ({ expect }) => {
    const target = await makeInstitution();
    const server = await startServer();
    const lock = await lockInstitution(target.institutionId);
    let released = false;
    try {
      const before = await currentVersion(target.institutionId);
      const inFlight = patch(server.port, target, 'Never written', before.version).then(
        (res) => res.status,
        () => 'connection closed',
      );
      await sleep(300);

      server.child.kill('SIGTERM');
      await sleep(200);
      expect(server.child.exitCode).toBeNull(); // still draining
      const secondAt = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      expect(Date.now() - secondAt).toBeLessThan(2000);
      expect(exit, server.output()).toEqual({ code: 1, signal: null });

      expect(await inFlight).toBe('connection closed');
      await lock.release();
      released = true;
      expect(await currentVersion(target.institutionId)).toEqual(before);
    } finally {
      if (!released) await lock.release();
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 90_000);
});
