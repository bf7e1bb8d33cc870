import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { custodyChainsOf, verifyChain } from '../src/modules/custody/index.js';
import { summarize } from './stats.js';

// `npx tsx bench/chaos.ts [--clients 120] [--seconds 120] [--kill-every 10] [--compiled]` (as
// root: the PostgreSQL cluster runs as the `postgres` user). --compiled runs the API as production
// does, `node dist/main.js` (after `npm run build`), instead of through tsx.
//
// Crashes and restarts never lose, duplicate or fail an acknowledged action. The bench starts its
// own PostgreSQL cluster (initdb in a temporary folder) and its own Redis (appendonly) on free
// ports, and the API (`src/main.ts serve`, WORKERS=1) as a child process. --clients scanner
// clients each register tubes one after another, each under its own Idempotency-Key, retrying the
// same request until it is acknowledged (2xx). Meanwhile the API is SIGKILLed and started again
// every --kill-every seconds, PostgreSQL is restarted (fast) once at a third of the time and
// Redis (SIGKILL, its append-only file kept) once at two thirds. Then the clients finish the
// action they are on, and the bench checks: every acknowledged tube exists once and no other does
// (lost, duplicated), no answer was a 500, acknowledgement latency (first send to 2xx), every
// custody chain verifies, and every outbox job finished.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '120' },
    seconds: { type: 'string', default: '120' },
    'kill-every': { type: 'string', default: '10' },
    compiled: { type: 'boolean', default: false },
    /** where the API's output goes (appended), to see why it was not answering */
    'api-log': { type: 'string' },
  },
});
if (values.compiled && !existsSync('dist/main.js')) throw new Error('--compiled: run npm run build first');
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const KILL_EVERY = Number(values['kill-every']);

const work = mkdtempSync(join(tmpdir(), 'biobank-chaos-'));
chmodSync(work, 0o755);
const pgData = join(work, 'pg');
const pgPort = await freePort();
const redisPort = await freePort();
const apiPort = await freePort();
const asPostgres = (cmd: string, args: string[]) =>
  spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' });

function must(r: ReturnType<typeof spawnSync>, what: string) {
  if (r.status !== 0) throw new Error(`${what} failed: ${String(r.stderr)}`);
}

// PostgreSQL of its own (the folder belongs to the postgres user, which runs the cluster)
const postgresUser = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
const postgresGroup = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
chownSync(work, Number(postgresUser.stdout), Number(postgresGroup.stdout));
must(asPostgres('initdb', ['-D', pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']), 'initdb');
const pgCtl = (action: string, extra: string[] = []) =>
  asPostgres('pg_ctl', [
    '-D',
    pgData,
    '-w',
    '-l',
    join(pgData, 'log'),
    '-o',
    `-p ${pgPort} -k ${pgData} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    action,
    ...extra,
  ]);
must(pgCtl('start'), 'pg_ctl start');
const databaseUrl = `postgres://postgres@127.0.0.1:${pgPort}/biobank_chaos`;

// Redis of its own, persistent
// A holder, so the type survives assignments made in closures.
const redis: { process: ChildProcess | null } = { process: null };
const startRedis = () => {
  redis.process = spawn(
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      work,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
};
startRedis();
const redisUrl = `redis://127.0.0.1:${redisPort}`;

const env = {
  ...process.env,
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: 'chaos',
  BIOBANK_SECRET: 'chaos-secret-of-at-least-thirty-two-characters',
  PORT: String(apiPort),
  HOST: '127.0.0.1',
  WORKERS: '1',
  LOG_LEVEL: 'warn',
  OUTBOX_RECONCILE_MS: '5000',
  // All clients share one key: a crash test, not a rate-limit test (429s would stretch the tail).
  RATE_LIMIT_PER_KEY: '0',
};
await sleep(500);
await migrateDatabase(databaseUrl);
const config = loadConfig(env);
const c = createContainer(config, createLogger('warn'));
const system: Ctx = {
  actor: { kind: 'system', name: 'chaos', institutionId: null },
  requestId: 'chaos',
  log: c.log,
};
const institution = await c.services.institutions.createInstitution(system, {
  code: 'CHAOS',
  name: 'Chaos lab',
  kind: 'biobank',
  operator: false,
});
const { token } = await c.services.apiKeys.createApiKey(system, {
  institutionId: institution.id,
  role: 'technician',
  name: 'scanner',
});
await c.close();

// The API, killed and started again
let api: ChildProcess | null = null;
const startApi = () => {
  const out = values['api-log'] ? openSync(values['api-log'], 'a') : 'ignore';
  const entry = values.compiled ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  api = spawn(process.execPath, [...entry, 'serve'], {
    env,
    stdio: ['ignore', out, out],
  });
};
const killApi = async () => {
  const a = api;
  if (!a || a.exitCode !== null) return;
  const exited = new Promise((r) => a.once('exit', r));
  a.kill('SIGKILL');
  await exited;
};
startApi();

// Scanner clients
const statuses = new Map<number, number>();
const acked: string[] = [];
const latencies: number[] = [];
let stopping = false;
const base = `http://127.0.0.1:${apiPort}`;

async function registerUntilAcknowledged(): Promise<void> {
  const barcode = `CH-${randomBytes(6).toString('hex').toUpperCase()}`;
  const key = `chaos-${barcode}`;
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(`${base}/v1/specimens`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'idempotency-key': key,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ barcode, type: 'serum', quantity: 1 }),
        signal: AbortSignal.timeout(30_000),
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 300) {
        acked.push(barcode);
        latencies.push(Date.now() - started);
        return;
      }
      const after = Number(res.headers.get('retry-after') ?? '0');
      await sleep(after > 0 ? Math.min(after, 2) * 1000 : 200);
    } catch {
      statuses.set(0, (statuses.get(0) ?? 0) + 1); // connection refused or reset: the API is down
      await sleep(250);
    }
  }
}

const clients = Array.from({ length: CLIENTS }, async () => {
  while (!stopping) await registerUntilAcknowledged();
});

const t0 = Date.now();
let pgRestarted = false;
let redisRestarted = false;
let kills = 0;
while (Date.now() - t0 < SECONDS * 1000) {
  await sleep(KILL_EVERY * 1000);
  await killApi();
  kills++;
  startApi();
  const elapsed = (Date.now() - t0) / 1000;
  if (!pgRestarted && elapsed >= SECONDS / 3) {
    pgRestarted = true;
    must(pgCtl('restart', ['-m', 'fast']), 'pg_ctl restart');
    console.log(`${elapsed.toFixed(0)} s: PostgreSQL restarted`);
  }
  if (!redisRestarted && elapsed >= (2 * SECONDS) / 3) {
    redisRestarted = true;
    const r = redis.process!;
    const exited = new Promise((res) => r.once('exit', res));
    r.kill('SIGKILL');
    await exited;
    startRedis();
    console.log(`${elapsed.toFixed(0)} s: Redis killed and started again`);
  }
}
stopping = true;
await Promise.race([Promise.all(clients), sleep(120_000)]);
const drainedAt = Date.now();

// Checks, against the database directly
const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const { rows: specimens } = await db.query<{ id: string; barcode: string }>(
  'select id, barcode from specimen where institution_id = $1',
  [institution.id],
);
const stored = new Set(specimens.map((s) => s.barcode));
const ackedSet = new Set(acked);
const lost = acked.filter((b) => !stored.has(b)).length;
const unacknowledged = specimens.filter((s) => !ackedSet.has(s.barcode)).length;
let open = -1;
for (let i = 0; i < 120; i++) {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from outbox where done_at is null and failed_at is null',
  );
  open = rows[0]!.n;
  if (open === 0) break;
  await sleep(1000);
}
const { rows: failedJobs } = await db.query<{ n: number }>(
  'select count(*)::int as n from outbox where failed_at is not null',
);
const { rows: totalJobs } = await db.query<{ n: number }>('select count(*)::int as n from outbox');
const checker = createContainer(loadConfig(env), createLogger('warn'));
let broken = 0;
for (let i = 0; i < specimens.length; i += 1000) {
  const chains = await custodyChainsOf(
    checker.db,
    specimens.slice(i, i + 1000).map((s) => s.id),
  );
  for (const events of chains.values()) if (verifyChain(events).firstBreak) broken++;
}
await checker.close();
await db.end();

const s = summarize(latencies);
console.log(
  `clients ${CLIENTS}, ${SECONDS} s, API SIGKILLed ${kills} times, PostgreSQL and Redis restarted once`,
);
console.log(
  `acknowledged ${acked.length}; lost ${lost}; duplicated or unacknowledged rows ${unacknowledged}`,
);
console.log(
  `answers by status: ${[...statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([k, v]) => `${k === 0 ? 'no answer' : k} ${v}`)
    .join(', ')}`,
);
console.log(
  `acknowledgement latency ms: p50 ${s.p50} p90 ${s.p90} p99 ${s.p99} max ${s.max}; clients drained ${((drainedAt - t0) / 1000).toFixed(0)} s after start`,
);
console.log(`custody chains: ${specimens.length} checked, ${broken} broken`);
console.log(`outbox jobs: ${totalJobs[0]!.n}, open ${open}, failed ${failedJobs[0]!.n}`);

await killApi();
pgCtl('stop', ['-m', 'immediate']);
redis.process?.kill('SIGKILL');
rmSync(work, { recursive: true, force: true });
process.exit(0);
