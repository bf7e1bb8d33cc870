import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/runtime.js';
import { summarize } from './stats.js';

// `npx tsx bench/job-yield.ts --database-url postgres://postgres@127.0.0.1:5432/<a copy of biobank_bench> [--seconds 30]`
//
// Does a long job leave the API answering? One process serves the API and runs the workers, as
// `serve` does with WORKERS=1. A closed-loop client in the same process calls /health/ready (a
// PostgreSQL query and a Redis ping) for --seconds while idle, then for --seconds while a batch
// standardization run over the copy's 1,000,000 specimens is running, and prints both latency
// summaries and the event loop's delay (perf_hooks). The run is left unfinished: use a copy
// (`createdb -S FILE_COPY -T biobank_bench biobank_bench_NAME`: the default strategy writes the whole
// database into the WAL, and the checkpoints that follow slow the first minute) and drop it afterwards.

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    seconds: { type: 'string', default: '30' },
    institution: { type: 'string', default: 'BENCH-1000000' },
  },
});
if (!values['database-url']) throw new Error('--database-url (a copy of biobank_bench) is required');
if (new URL(values['database-url']).pathname === '/biobank_bench')
  throw new Error('biobank_bench is shared: run on a copy');
const seconds = Number(values.seconds);

const config = loadConfig({
  ...process.env,
  DATABASE_URL: values['database-url'],
  QUEUE_PREFIX: `bench-yield-${process.pid}`,
  WORKERS: '1',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  BIOBANK_SECRET: process.env.BIOBANK_SECRET ?? 'bench-secret-of-at-least-thirty-two-characters',
});
await migrateDatabase(config.DATABASE_URL);
const c = createContainer(config, createLogger('warn'));
const running = await startServer(c, { listen: true });
const address = running.app!.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

const found = await c.db.execute<{ id: string }>(
  sql`select id from institution where code = ${values.institution}`,
);
const institutionId = found.rows[0]?.id;
if (!institutionId) throw new Error(`no institution ${values.institution}`);
const ctx: Ctx = {
  actor: { kind: 'system', name: 'bench', institutionId },
  requestId: `bench-${Date.now()}`,
  log: c.log,
};

async function probe(label: string) {
  const latencies: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const started = performance.now();
    const res = await fetch(`${base}/health/ready`);
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
  }
  loop.disable();
  const s = summarize(latencies);
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(
    `${label.padEnd(12)} requests ${s.count}  p50 ${s.p50.toFixed(1)} ms  p90 ${s.p90.toFixed(1)} ms  ` +
      `p99 ${s.p99.toFixed(1)} ms  max ${s.max.toFixed(1)} ms  | event loop delay p99 ${ms(loop.percentile(99))} ms  max ${ms(loop.max)} ms`,
  );
  return s;
}

try {
  const idle = await probe('idle');
  const run = await c.services.standards.startStandardizationRun(ctx, { filter: {} });
  // Measured once the worker has started it (its first chunk loading).
  for (;;) {
    const r = await c.services.standards.getStandardizationRun(ctx, run.id);
    if (r.status === 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const during = await probe('during run');
  const after = await c.services.standards.getStandardizationRun(ctx, run.id);
  console.log(`run ${run.id}: ${after.processed.toLocaleString('en')} specimens checked while measuring`);
  console.log(`p99 during / idle: ${(during.p99 / idle.p99).toFixed(2)}`);
} finally {
  // The run is left unfinished: stopping waits for requests, not for it.
  await running.app!.close();
  await c.relay.stop();
  const redis = new Redis(config.REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
process.exit(0);
