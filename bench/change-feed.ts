import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { seedSynthetic } from '../src/seed/synthetic.js';

// `npx tsx bench/change-feed.ts [--count 100000] [--changes 100000] [--rounds 3] [--limit 1000]`
//
// How fast one consumer drains the change feed (GET /v1/changes) over HTTP from the real service
// (`src/main.ts serve` as a child process, WORKERS=0, LOG_LEVEL=warn), one request at a time,
// keep-alive, `limit` changes per request. Own database `biobank_bench_feed`, seeded once per
// --count with the synthetic inventory (its specimens, containers and participants are the first
// changes the feed holds).
//
// Each round first writes --changes specimen updates through the capture triggers (bulk UPDATEs of
// 10,000 rows, one transaction each, so the feed has many transactions to order), then drains
// them from the cursor the consumer held: these changes have no feed position yet, so the drain
// pays for sequencing them too. The last line drains the whole feed from its start (every change
// already sequenced). Each drain checks that it saw every change exactly once.

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    changes: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    limit: { type: 'string', default: '1000' },
  },
});
const positive = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const count = positive('count', values.count);
const changes = positive('changes', values.changes);
const rounds = positive('rounds', values.rounds);
const limit = positive('limit', values.limit);

const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank');
base.pathname = '/biobank_bench_feed';
const secret = process.env.BIOBANK_SECRET ?? 'bench-secret-of-at-least-thirty-two-characters';
const config = loadConfig({
  ...process.env,
  DATABASE_URL: base.toString(),
  QUEUE_PREFIX: `bench-feed-${process.pid}`,
  LOG_LEVEL: 'warn',
  BIOBANK_SECRET: secret,
});
const log = createLogger('warn');
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function startService(port: number, logFile: string): Promise<ChildProcess> {
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: config.DATABASE_URL,
      BIOBANK_SECRET: secret,
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKERS: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', out, out],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`service exited:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service did not answer /health/live within 60 s');
    }
    await sleep(200);
  }
}

interface Page {
  items: { entityId: string; version: number | null }[];
  nextCursor: string;
  hasMore: boolean;
}

await migrateDatabase(config.DATABASE_URL);
const c = createContainer(config, log);
const workDir = mkdtempSync(join(tmpdir(), 'bench-feed-'));
let service: ChildProcess | undefined;
try {
  const code = `FEED${count}`;
  say(
    `seeding ${count.toLocaleString('en')} specimens into biobank_bench_feed (institution ${code}; reused when present)`,
  );
  const seeded = await seedSynthetic(c, {
    count,
    institutionCode: code,
    log: { info: (obj, msg) => say(`  ${msg} ${JSON.stringify(obj)}`) },
  });
  const institutionId = seeded.institutionId;
  const ctx: Ctx = {
    actor: { kind: 'system', name: 'bench', institutionId },
    requestId: `bench-feed-${Date.now()}`,
    log,
  };
  const { token } = await c.services.apiKeys.createApiKey(ctx, {
    institutionId,
    role: 'integration',
    name: `change feed bench ${Date.now()}`,
  });
  const port = await freePort();
  service = await startService(port, join(workDir, 'service.log'));
  const serverPid = service.pid;

  /** One consumer: requests one after the other until the feed has nothing more ready. */
  async function drain(after: string | undefined) {
    let cursor = after;
    let received = 0;
    let requests = 0;
    const seen = new Set<string>();
    for (;;) {
      const url = new URL(`http://127.0.0.1:${port}/v1/changes`);
      url.searchParams.set('limit', String(limit));
      if (cursor) url.searchParams.set('after', cursor);
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`GET /v1/changes: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as Page;
      requests++;
      received += page.items.length;
      for (const item of page.items) seen.add(`${item.entityId}:${item.version}`);
      cursor = page.nextCursor;
      if (!page.hasMore) return { cursor, received, distinct: seen.size, requests };
    }
  }

  /** --changes specimen updates, 10,000 per transaction, through the capture triggers. */
  async function writeChanges(round: number): Promise<number> {
    let written = 0;
    let last = '00000000-0000-0000-0000-000000000000';
    while (written < changes) {
      const n = Math.min(10_000, changes - written);
      const result = await c.db.execute<{ id: string }>(sql`
        update specimen s set quality = s.quality || jsonb_build_object('benchRound', ${round}::int),
                              version = s.version + 1, updated_at = now()
         where s.id in (select id from specimen where institution_id = ${institutionId} and id > ${last}::uuid
                         order by id limit ${n})
        returning s.id`);
      if (result.rows.length === 0) {
        last = '00000000-0000-0000-0000-000000000000';
        continue;
      }
      written += result.rows.length;
      last = result.rows.reduce((m, r) => (r.id > m ? r.id : m), last);
    }
    return written;
  }

  let cursor = (await drain(undefined)).cursor;
  const rates: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const written = await writeChanges(round);
    const cpu0 = cpuMs(serverPid);
    const t0 = performance.now();
    const r = await drain(cursor);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuMs(serverPid);
    cursor = r.cursor;
    if (r.received !== written || r.distinct !== written)
      throw new Error(
        `round ${round}: wrote ${written} changes, received ${r.received} (${r.distinct} distinct)`,
      );
    const rate = r.received / seconds;
    rates.push(rate);
    const serverUs = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * 1000) / r.received : null;
    say(
      `round ${round}: ${r.received.toLocaleString('en')} new changes in ${r.requests} requests, ${seconds.toFixed(2)} s: ` +
        `${Math.round(rate).toLocaleString('en')} changes/s` +
        (serverUs === null ? '' : ` (service CPU ${serverUs.toFixed(1)} µs/change)`),
    );
  }
  const t0 = performance.now();
  const all = await drain(undefined);
  const seconds = (performance.now() - t0) / 1000;
  if (all.received !== all.distinct)
    throw new Error(`the full drain repeated ${all.received - all.distinct} changes`);
  say(
    `from the start: ${all.received.toLocaleString('en')} changes in ${all.requests} requests, ${seconds.toFixed(2)} s: ` +
      `${Math.round(all.received / seconds).toLocaleString('en')} changes/s`,
  );
  say(
    `change feed, one consumer, ${limit} per request: ` +
      rates.map((r) => `${Math.round(r).toLocaleString('en')}/s`).join(', ') +
      ' (target >= 20,000/s)',
  );
} finally {
  if (service && service.exitCode === null) {
    const exited = new Promise((r) => service!.once('exit', r));
    service.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (service.exitCode === null) service.kill('SIGKILL');
  }
  rmSync(workDir, { recursive: true, force: true });
  await c.close();
}
