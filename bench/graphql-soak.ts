import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { seedSynthetic } from '../src/seed/synthetic.js';
import { summarize } from './stats.js';

// The GraphQL soak of issue 13 (not a timed test): the real service as a child process, first 200
// distinct documents of about 60 KB each (so every one is parsed and competes for the document
// cache), then 50 clients sending the most expensive query the cost limit lets through, for 60 s.
// Meanwhile /health/live is asked every 100 ms and the server's resident memory read from /proc.
// Targets: peak RSS under 512 MB, /health/live p99 under 100 ms.

export interface SoakOptions {
  databaseUrl: string;
  count: number;
  documents: number;
  documentBytes: number;
  clients: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number) => n.toFixed(1);

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

/** Resident and peak resident memory of a process, in MB, from /proc. */
function memoryMb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/**
 * Cost 25 per specimen (specimens, edges, node, location, container: 1 each; qcResults: 20):
 * 500 + 300 specimens = 20,000, exactly the default GRAPHQL_MAX_COST.
 */
const NODE =
  'barcode status location { path } container { barcode } permittedUses qcResults { check outcome }';
export const MAX_COST_QUERY = `query MaxCost {
  a: specimens(first: 500) { edges { node { ${NODE} } } }
  b: specimens(first: 300) { edges { node { ${NODE} } } }
}`;

/** Document `i` of about `bytes`: half padded with a comment, half with a long string argument. */
function largeDocument(i: number, bytes: number): string {
  const pad = (n: number) => `${i}-`.padEnd(n, 'abcdefghijklmnopqrstuvwxyz0123456789'.charAt(i % 36));
  if (i % 2 === 0) {
    return `# document ${pad(bytes - 120)}\n{ specimens(first: 5) { edges { node { barcode } } } }`;
  }
  return `{ specimenByBarcode(barcode: "${pad(bytes - 120)}") { barcode } }`;
}

async function post(base: string, token: string, query: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.text() };
}

export async function graphqlSoak(o: SoakOptions): Promise<void> {
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    LOG_LEVEL: 'warn',
    WORKERS: '0',
    QUEUE_PREFIX: 'biobank-soak',
  });
  await migrateDatabase(o.databaseUrl);
  const c = createContainer(config, createLogger('warn'));
  const workDir = mkdtempSync(join(tmpdir(), 'biobank-soak-'));
  let child: ChildProcess | undefined;
  try {
    const seeded = await seedSynthetic(c, {
      count: o.count,
      institutionCode: `SOAK-${o.count}`,
      log: { info: (obj, msg) => console.log(`  ${msg} ${JSON.stringify(obj)}`) },
    });
    const { token } = await c.services.apiKeys.createApiKey(
      { actor: { kind: 'system', name: 'soak', institutionId: null }, requestId: 'soak', log: c.log },
      { institutionId: seeded.institutionId, role: 'manager', name: 'soak manager' },
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const logFile = join(workDir, 'service.log');
    // The limits under test stay at their defaults; only the per-key rate limit is off, since 50
    // clients of one key is the load itself here, not an abuse to refuse.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: {
        ...process.env,
        DATABASE_URL: o.databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        WORKERS: '0',
        LOG_LEVEL: 'warn',
        QUEUE_PREFIX: 'biobank-soak',
        RATE_LIMIT_PER_KEY: '0',
      },
      stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
    });
    const pid = child.pid!;
    for (let waited = 0; ; waited += 200) {
      if (child.exitCode !== null) throw new Error(`service exited:\n${readFileSync(logFile, 'utf8')}`);
      if (
        await fetch(`${base}/health/live`)
          .then((r) => r.ok)
          .catch(() => false)
      )
        break;
      if (waited > 60_000) throw new Error('service did not start within 60 s');
      await sleep(200);
    }
    const startMb = memoryMb(pid);
    console.log(
      `service pid ${pid}, RSS at start ${f1(startMb?.rss ?? NaN)} MB; load average ${loadavg().map(f1).join(' ')}`,
    );

    let peakRss = startMb?.rss ?? 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        const m = memoryMb(pid);
        if (m) peakRss = Math.max(peakRss, m.rss);
        await sleep(100);
      }
    })();
    const liveness: number[] = [];
    const prober = (async () => {
      while (running) {
        const t0 = performance.now();
        const ok = await fetch(`${base}/health/live`)
          .then((r) => r.ok)
          .catch(() => false);
        liveness.push(ok ? performance.now() - t0 : Infinity);
        await sleep(100);
      }
    })();

    // Phase 1: distinct large documents, four at a time.
    const t1 = Date.now();
    const statuses = new Map<number, number>();
    for (let i = 0; i < o.documents; i += 4) {
      const batch = Array.from({ length: Math.min(4, o.documents - i) }, (_, k) =>
        post(base, token, largeDocument(i + k, o.documentBytes)),
      );
      for (const r of await Promise.all(batch)) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    const afterDocs = memoryMb(pid);
    console.log(
      `phase 1: ${o.documents} documents of ${o.documentBytes} bytes in ${f1((Date.now() - t1) / 1000)} s, ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}, RSS ${f1(afterDocs?.rss ?? NaN)} MB`,
    );

    // Phase 2: the most expensive allowed query, from `clients` clients at once.
    const first = await post(base, token, MAX_COST_QUERY);
    if (first.status !== 200 || first.body.includes('"errors"')) {
      throw new Error(`the maximum-cost query was refused: ${first.body.slice(0, 300)}`);
    }
    const deadline = Date.now() + o.seconds * 1000;
    const queryMs: number[] = [];
    let failures = 0;
    await Promise.all(
      Array.from({ length: o.clients }, async () => {
        while (Date.now() < deadline) {
          const t0 = performance.now();
          const r = await post(base, token, MAX_COST_QUERY).catch(() => ({ status: 0, body: '' }));
          if (r.status === 200 && !r.body.includes('"errors"')) queryMs.push(performance.now() - t0);
          else failures++;
        }
      }),
    );
    running = false;
    await Promise.all([sampler, prober]);
    const end = memoryMb(pid);
    const live = summarize(liveness.filter(Number.isFinite));
    const queries = summarize(queryMs);
    console.log(
      `phase 2: ${queries.count} maximum-cost queries (${f1(queries.count / o.seconds)}/s) by ${o.clients} clients ` +
        `in ${o.seconds} s, ${failures} failed; query p50 ${f1(queries.p50)} ms, p99 ${f1(queries.p99)} ms`,
    );
    console.log(
      `memory: peak RSS ${f1(Math.max(peakRss, end?.hwm ?? 0))} MB (sampled ${f1(peakRss)}, kernel high-water ${f1(end?.hwm ?? NaN)}), ` +
        `RSS at end ${f1(end?.rss ?? NaN)} MB; target < 512 MB`,
    );
    console.log(
      `/health/live: ${live.count} probes, ${liveness.length - live.count} failed, p50 ${f1(live.p50)} ms, ` +
        `p99 ${f1(live.p99)} ms, max ${f1(live.max)} ms; target p99 < 100 ms`,
    );
    console.log(`load average at end ${loadavg().map(f1).join(' ')}`);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await c.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
