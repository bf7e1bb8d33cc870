import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { newId } from '../src/db/columns.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { timeStatements } from './import-statements.js';
import { ceilingCopy, copyTimings, psql } from './import-ceiling.js';
import { insertContainers, positionLabel, type BulkContainer } from '../src/modules/storage/index.js';

// `npm run bench -- import [--count 1000000]`: a specimen file of --count rows (external id,
// barcode, type, quantity, protocol code, container barcode + position, collection time, SPREC)
// imported through the service (validation into the staging table, then the apply through the
// specimen ledger: every tube its custody events, audit row and change-feed entry), against a raw
// `COPY` of the same file into a bare table, in one run on one database.
//
// The database (`biobank_bench_import`, or --database-url) is dropped and created fresh each run:
// an institution, a protocol and enough 9 x 9 boxes (in 10 x 10 racks in 10 x 10 freezers) for the
// tubes; the import runs in this process (no HTTP, no worker), as the CLI does. Peak RSS is this
// process's, sampled every 100 ms: the file is never held in memory, whatever --count. The tables
// the import grows are analyzed every 15 s, as autovacuum (off on this server) would. Last, the
// ceiling: the rows the import wrote, COPY'd into the real tables and rolled back (import-ceiling.ts).

const BOX = { rows: 9, cols: 9 } as const;
const TEN = { rows: 10, cols: 10 } as const;

async function recreate(url: string) {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}

/** Freezers of racks of boxes enough for `count` tubes; returns the box barcodes in fill order. */
function storageTree(count: number, at: Date) {
  const boxes = Math.ceil(count / (BOX.rows * BOX.cols));
  const rows: BulkContainer[] = [];
  const boxBarcodes: string[] = [];
  const per = TEN.rows * TEN.cols;
  for (let f = 0; f * per * per < boxes; f++) {
    const freezer = newId();
    rows.push({
      id: freezer,
      parentId: null,
      ancestorIds: [],
      kind: 'freezer',
      barcode: `IFZ-${f}`,
      name: `Import freezer ${f}`,
      temperatureC: -80,
      grid: { ...TEN, scheme: 'alphanumeric' },
      allowedTypes: null,
      slot: null,
      createdAt: at,
    });
    for (let r = 0; r < per && (f * per + r) * per < boxes; r++) {
      const rack = newId();
      rows.push({
        id: rack,
        parentId: freezer,
        ancestorIds: [freezer],
        kind: 'rack',
        barcode: `IRK-${f}-${r}`,
        name: `Rack ${r}`,
        temperatureC: null,
        grid: { ...TEN, scheme: 'alphanumeric' },
        allowedTypes: null,
        slot: { row: Math.floor(r / TEN.cols) + 1, col: (r % TEN.cols) + 1 },
        createdAt: at,
      });
      for (let b = 0; b < per && (f * per + r) * per + b < boxes; b++) {
        const barcode = `IBX-${(f * per + r) * per + b}`;
        boxBarcodes.push(barcode);
        rows.push({
          id: newId(),
          parentId: rack,
          ancestorIds: [freezer, rack],
          kind: 'box',
          barcode,
          name: barcode,
          temperatureC: null,
          grid: { ...BOX, scheme: 'alphanumeric' },
          allowedTypes: null,
          slot: { row: Math.floor(b / TEN.cols) + 1, col: (b % TEN.cols) + 1 },
          createdAt: at,
        });
      }
    }
  }
  return { rows, boxBarcodes };
}

async function writeFile(path: string, count: number, boxBarcodes: string[], protocol: string) {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(
    'externalIdSystem,externalIdValue,barcode,type,quantity,protocolCode,containerBarcode,position,collectedAt,sprecCode\n',
  );
  const perBox = BOX.rows * BOX.cols;
  const collected = new Date('2026-01-05T08:00:00Z').getTime();
  for (let i = 0; i < count; i++) {
    const box = boxBarcodes[Math.floor(i / perBox)]!;
    const p = i % perBox;
    const position = positionLabel(
      'alphanumeric',
      BOX.rows,
      BOX.cols,
      Math.floor(p / BOX.cols) + 1,
      (p % BOX.cols) + 1,
    );
    const at = new Date(collected + i * 1000).toISOString();
    await write(`urn:lis,ACC-${i},S-${i},serum,1.5,${protocol},${box},${position},${at},SER-SST-A-B-A-A-A\n`);
  }
  out.end();
  await once(out, 'finish');
}

/** The bare COPY: wall time of the psql run, and the COPY's own time as \\timing reports it. */
function copyBaseline(url: string, path: string): { wall: number; copy: number } {
  psql(url, [
    '-qc',
    `create table bench_copy (external_id_system text, external_id_value text, barcode text, type text,
        quantity numeric, protocol_code text, container_barcode text, position text, collected_at timestamptz,
        sprec_code text)`,
  ]);
  const started = process.hrtime.bigint();
  const out = psql(url, [
    '-c',
    '\\timing on',
    '-c',
    `\\copy bench_copy from '${path}' with (format csv, header true)`,
  ]);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  return { wall, copy: copyTimings(out)[0]!.seconds };
}

export async function importBench(opts: { count: number; databaseUrl?: string }): Promise<void> {
  const base = new URL(
    opts.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank',
  );
  if (!opts.databaseUrl) base.pathname = '/biobank_bench_import';
  const url = base.toString();
  const count = opts.count;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `biobank bench import: ${count.toLocaleString('en')} specimen rows, database ${base.pathname.slice(1)}`,
  );
  await recreate(url);
  await migrateDatabase(url);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url,
    LOG_LEVEL: 'warn',
    WORKERS: '0',
    QUEUE_PREFIX: `bench-import-${process.pid}`,
    BIOBANK_SECRET: process.env.BIOBANK_SECRET ?? 'bench-secret-of-at-least-thirty-two-characters',
  });
  const c = createContainer(config, createLogger('warn'));
  const dir = mkdtempSync(join(tmpdir(), 'biobank-bench-import-'));
  try {
    const system: Ctx = {
      actor: { kind: 'system', name: 'bench', institutionId: null },
      requestId: 'bench',
      log: c.log,
    };
    const institution = await c.services.institutions.createInstitution(system, {
      code: 'BENCH-IMPORT',
      name: 'Import bench',
      kind: 'biobank',
      operator: false,
    });
    const ctx: Ctx = {
      ...system,
      actor: { kind: 'system', name: 'bench:import', institutionId: institution.id },
    };
    await c.services.participants.upsertProtocol(ctx, {
      code: 'CP-BENCH',
      body: { title: 'Bench cohort', ethicsApprovalRef: 'EC-0', diseaseArea: 'other' },
    });
    const tree = storageTree(count, new Date());
    for (let i = 0; i < tree.rows.length; i += 5_000)
      await c.db.transaction((tx) => insertContainers(tx, institution.id, tree.rows.slice(i, i + 5_000)));
    const file = join(dir, 'specimens.csv');
    await writeFile(file, count, tree.boxBarcodes, 'CP-BENCH');
    say(
      `  file ${(statSync(file).size / 1e6).toFixed(1)} MB, ${tree.boxBarcodes.length} boxes; load ${loadavg()}`,
    );

    const bare = copyBaseline(url, file);
    const copySeconds = bare.wall;
    const copyRate = count / copySeconds;
    say(
      `  COPY into a bare table: ${copySeconds.toFixed(2)} s, ${Math.round(copyRate).toLocaleString('en')} rows/s ` +
        `(the COPY itself ${bare.copy.toFixed(2)} s)`,
    );

    // This server runs with autovacuum off: without fresh statistics the planner keeps reading the
    // growing specimen table as empty (a sequential scan per occupancy check). Analyze it as
    // autovacuum's defaults would while the import runs.
    const analyze = setInterval(() => {
      void c.database.pool
        .query('analyze specimen, specimen_external_id, custody_event, audit_log')
        .catch(() => undefined);
    }, 15_000);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 100);
    const dbCpuBefore = await backendCpu(c.database.pool, base.pathname.slice(1));
    const cpuBefore = process.cpuUsage();
    const statements = timeStatements();
    const started = process.hrtime.bigint();
    const answer = await c.services.imports.startImport(
      ctx,
      { kind: 'specimens', mode: 'valid-rows', dryRun: false, format: 'csv', file: createReadStream(file) },
      { enqueue: false },
    );
    const validated = process.hrtime.bigint();
    const done = await c.services.imports.applyImport(ctx, answer.job.id);
    const finished = process.hrtime.bigint();
    const byStatement = statements.stop();
    const cpu = process.cpuUsage(cpuBefore);
    const dbCpu = cpuSince(dbCpuBefore, await backendCpu(c.database.pool, base.pathname.slice(1)));
    clearInterval(sampler);
    clearInterval(analyze);
    const seconds = (a: bigint, b: bigint) => Number(b - a) / 1e9;
    const total = seconds(started, finished);
    const rate = count / total;
    const { rows } = await c.database.pool.query<{ specimens: number; custody: number; audit: number }>(
      `select (select count(*)::int from specimen) as specimens, (select count(*)::int from custody_event) as custody,
              (select count(*)::int from audit_log where entity_type = 'specimen') as audit`,
    );
    say(
      `  import: validation ${seconds(started, validated).toFixed(1)} s, apply ${seconds(validated, finished).toFixed(1)} s, ` +
        `total ${total.toFixed(1)} s, ${Math.round(rate).toLocaleString('en')} rows/s; status ${done?.status}, ` +
        `${done?.createdRecords} created, ${done?.errorCount} errors`,
    );
    say(
      `  written: ${JSON.stringify(rows[0])}; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; load ${loadavg()}`,
    );
    const perRow = (seconds: number) => `${((seconds / count) * 1e6).toFixed(0)} µs/row`;
    const processCpu = (cpu.user + cpu.system) / 1e6;
    say(
      `  CPU: this process ${processCpu.toFixed(1)} s (${perRow(processCpu)}), the database's sessions ` +
        `${dbCpu.toFixed(1)} s (${perRow(dbCpu)}); wall ${total.toFixed(1)} s`,
    );
    const sqlSeconds = byStatement.reduce((sum, x) => sum + x.seconds, 0);
    say(
      `  statements: ${sqlSeconds.toFixed(1)} s of the import's ${total.toFixed(1)} s (the rest is this process's own work), the largest:`,
    );
    for (const x of byStatement.slice(0, 14))
      say(`    ${x.seconds.toFixed(2).padStart(7)} s ${String(x.calls).padStart(5)} x  ${x.statement}`);
    say(`  import / COPY throughput: ${(rate / copyRate).toFixed(3)}x (target >= 0.3x)`);
    const ceiling = ceilingCopy(url, dir);
    const ceilingSeconds = ceiling.tables.reduce((sum, t) => sum + t.seconds, 0);
    say(
      `  ceiling, the written rows COPY'd into the real tables (rolled back): ` +
        ceiling.tables.map((t) => `${t.name} ${t.rows} rows ${t.seconds.toFixed(2)} s`).join(', ') +
        `; ${ceilingSeconds.toFixed(2)} s, ${Math.round(count / ceilingSeconds).toLocaleString('en')} tubes/s, ` +
        `${(bare.copy / ceilingSeconds).toFixed(3)}x of the bare COPY (COPY times as \\timing reports them); ` +
        `the import is ${(ceilingSeconds / total).toFixed(3)}x of it; load ${loadavg()}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await c.close();
  }
}

/** CPU seconds (user + system) of each server process serving `database`, by pid, from /proc. */
async function backendCpu(pool: pg.Pool, database: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [
    database,
  ]);
  const ticks = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      // Fields after the command name: state is the 3rd, utime and stime the 14th and 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the session ended in between
    }
  }
  return ticks;
}

/** CPU seconds the sessions used between two readings (sessions opened since count in full). */
const cpuSince = (before: Map<number, number>, after: Map<number, number>) =>
  [...after.entries()].reduce((sum, [pid, t]) => sum + t - (before.get(pid) ?? 0), 0);

function loadavg(): string {
  const r = spawnSync('uptime', { encoding: 'utf8' });
  return (r.stdout.split('load average:')[1] ?? '').trim();
}
