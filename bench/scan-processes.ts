import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import type { LoadResult, LoadSpec } from './load.js';
import { spawnLoadgen } from './loadgen.js';
import { freePort, sleep } from '../test/helpers/server-process.js';
import { API_NODE_FLAGS } from '../src/node-flags.js';

// `npm run bench -- scan-processes --processes 1,2`: the scan lookup (GET
// /v1/specimens/by-barcode/{barcode}) against the compiled server (`node dist/main.js serve`) run
// as 1 and as 2 API processes (WEB_CONCURRENCY, src/cluster.ts), in one run: both servers start
// first and stay up, then the same load generator measures them in alternated rounds, so drift in
// the machine's load hits each alike. The pool is split between processes (DATABASE_POOL_SIZE per
// process = --pool / processes) so PostgreSQL sees the same number of connections.

export interface ScanProcessesOptions {
  pool: pg.Pool;
  url: string;
  institutionId: string;
  token: string;
  workDir: string;
  /** process counts to compare, e.g. [1, 2] */
  processes: number[];
  /** total PostgreSQL connections of each server, split between its processes */
  poolSize: number;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  rounds: number;
  sample: number;
  loadgen: 'wrk' | 'node';
  /** the service's environment besides port, pool and process count */
  env: (port: number) => Record<string, string>;
}

interface Running {
  processes: number;
  port: number;
  child: ChildProcess;
}

/** Children of a process (the cluster's API processes). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

/** CPU (user + system) of a process in milliseconds, from /proc. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * Starts a server and waits until it answers and, with several processes, until each has started:
 * all forked and none of them busy starting any more (the primary deals new connections only to
 * processes listening, so load opened earlier would all land on the first one).
 */
async function start(opts: ScanProcessesOptions, processes: number): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [...API_NODE_FLAGS, 'dist/main.js', 'serve'], {
    env: {
      ...process.env,
      ...opts.env(port),
      WEB_CONCURRENCY: String(processes),
      DATABASE_POOL_SIZE: String(Math.max(1, Math.round(opts.poolSize / processes))),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  const running = { processes, port, child };
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the ${processes}-process server exited (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`the ${processes}-process server did not start in 120 s`);
    const ok = await fetch(`http://127.0.0.1:${port}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    const pids = processes > 1 ? childrenOf(child.pid!) : [child.pid!];
    if (ok && pids.length === processes) {
      const before = pids.map(cpuMs);
      await sleep(1_000);
      // Under 50 ms of CPU in a second: idle, so done starting.
      if (pids.every((pid, i) => cpuMs(pid) - before[i]! < 50)) return running;
    } else await sleep(200);
  }
}

async function stop(s: Running): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000)]);
  if (s.child.exitCode === null) s.child.kill('SIGKILL');
}

/** Busy and total jiffies of the machine. */
function machine(): { busy: number; total: number } {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((s, x) => s + x, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** One measurement by the load generator (bench/wrk.ts or bench/load.ts) as a child process. */
async function measure(
  spec: LoadSpec,
  loadgen: 'wrk' | 'node',
): Promise<{ result: LoadResult; busy: number }> {
  const { child, deadline: limit } = spawnLoadgen(spec, loadgen);
  let from = machine();
  let result: LoadResult | null = null;
  let busy = NaN;
  for await (const line of createInterface({ input: child.stdout })) {
    const msg = JSON.parse(line) as { event: string };
    if (msg.event === 'measure-start') from = machine();
    else if (msg.event === 'result') {
      result = msg as LoadResult;
      const to = machine();
      busy = (100 * (to.busy - from.busy)) / Math.max(1, to.total - from.total);
    }
  }
  clearTimeout(limit);
  if (!result) throw new Error('the load generator ended without a result');
  return { result, busy };
}

const median = (values: number[]) => {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? (v[Math.floor((v.length - 1) / 2)]! + v[Math.ceil((v.length - 1) / 2)]!) / 2 : NaN;
};

export async function scanProcessesBench(opts: ScanProcessesOptions): Promise<void> {
  const barcodes = await opts.pool.query<{ barcode: string }>(
    'select barcode from specimen where institution_id = $1 order by random() limit $2',
    [opts.institutionId, opts.sample],
  );
  const barcodesFile = join(opts.workDir, 'barcodes.txt');
  writeFileSync(barcodesFile, barcodes.rows.map((r) => r.barcode).join('\n'));
  console.log(`${barcodes.rowCount} random barcodes drawn; building dist/ (npm run build)`);
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);

  const servers: Running[] = [];
  try {
    for (const n of opts.processes) servers.push(await start(opts, n));
    console.log(
      `\nscan lookup by API processes: ${opts.processes.join(' vs ')}; ${opts.connections} keep-alive connections, ` +
        `${opts.warmupSeconds} s warm-up + ${opts.durationSeconds} s measured, ${opts.rounds} round(s) alternated, ` +
        `load from ${opts.loadgen === 'wrk' ? 'wrk' : 'bench/load.ts'}, ${opts.poolSize} PostgreSQL connections per server`,
    );
    const rps = new Map<number, number[]>(opts.processes.map((n) => [n, []]));
    const p99 = new Map<number, number[]>(opts.processes.map((n) => [n, []]));
    for (let r = 1; r <= opts.rounds; r++) {
      // Who goes first alternates, so neither always follows the other's warm caches.
      const order = r % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        const { result: x, busy } = await measure(
          {
            host: '127.0.0.1',
            port: s.port,
            pathPrefix: '/v1/specimens/by-barcode/',
            barcodesFile,
            headers: { authorization: `Bearer ${opts.token}` },
            connections: opts.connections,
            warmupSeconds: opts.warmupSeconds,
            durationSeconds: opts.durationSeconds,
          },
          opts.loadgen,
        );
        console.log(
          `  round ${r} ${String(s.processes).padStart(2)} process(es) ${x.rps.toFixed(1).padStart(8)} req/s` +
            `  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  non-200 ${x.non200 + x.errors}` +
            `  machine busy ${Math.round(busy)} %`,
        );
        if (x.non200 + x.errors > x.count * 0.01)
          throw new Error(`${s.processes} process(es): ${x.non200} non-200 responses and ${x.errors} errors`);
        rps.get(s.processes)!.push(x.rps);
        p99.get(s.processes)!.push(x.p99);
      }
    }
    console.log(`\nscan lookup by API processes, medians of ${opts.rounds} round(s):`);
    for (const n of opts.processes)
      console.log(
        `  ${String(n).padStart(2)} process(es) ${median(rps.get(n)!).toFixed(1).padStart(9)} req/s` +
          `  p99 ${median(p99.get(n)!).toFixed(2)} ms`,
      );
    const [base, ...others] = opts.processes;
    for (const n of others) {
      const paired = rps.get(n)!.map((v, i) => v / rps.get(base!)![i]!);
      console.log(`  ${n} vs ${base}: throughput ${median(paired).toFixed(2)}x (median of paired rounds)`);
    }
  } finally {
    for (const s of servers) await stop(s);
  }
}
