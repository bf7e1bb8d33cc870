import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { queryTextRows } from '../src/db/text-rows.js';
import { createLogger } from '../src/logger.js';
import { createScanLookup, SCAN_SQL } from '../src/modules/specimens/index.js';

// CPU of one lone scan lookup inside the process, by layer, without HTTP: the statement through
// a plain pool.query (what bench/floor.ts runs), the same statement read as column texts
// (src/db/text-rows.ts), the scan read model (createScanLookup: text rows, holder, facts), and
// the service's scanSpecimen (location, permitted uses, the answer's bytes). One lookup at a time,
// so each goes alone; layers alternated in rounds, medians printed. The same barcodes every round,
// once unmeasured first, so the read model knows their boxes (as when a box is scanned tube after
// tube; a box it has not seen costs one more statement). Read-only.
//
//   npx tsx bench/scan-statement.ts [--database-url URL] [--count 1000000] [--rounds 8] [--lookups 3000]

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    count: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '8' },
    lookups: { type: 'string', default: '3000' },
  },
});
const url =
  values['database-url'] ??
  Object.assign(new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank'), {
    pathname: '/biobank_bench',
  }).toString();
const rounds = Number(values.rounds);
const lookups = Number(values.lookups);

const c = createContainer(
  loadConfig({ ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', WORKERS: '0' }),
  createLogger('warn'),
);
const plain = new pg.Pool({ connectionString: url, max: 4 });
try {
  const code = `BENCH-${values.count}`;
  const inst = await c.database.pool.query<{ id: string }>('select id from institution where code = $1', [
    code,
  ]);
  const institutionId = inst.rows[0]?.id;
  if (!institutionId)
    throw new Error(`no institution ${code}: run npm run bench -- scan-lookup first (it seeds)`);
  const sample = await c.database.pool.query<{ barcode: string }>(
    'select barcode from specimen where institution_id = $1 order by random() limit $2',
    [institutionId, lookups],
  );
  const barcodes = sample.rows.map((r) => r.barcode);
  const ctx: Ctx = {
    actor: { kind: 'system', name: 'bench', institutionId },
    requestId: 'bench',
    log: c.log,
  };
  const lookup = createScanLookup(c.database.pool);
  const layers: Record<string, (barcode: string) => Promise<unknown>> = {
    'pool.query (the floor)': (b) =>
      plain.query({ name: 'biobank_scan_lookup', text: SCAN_SQL, values: [institutionId, b] }),
    'text rows': (b) =>
      queryTextRows(c.database.pool, {
        name: 'biobank_scan_lookup',
        text: SCAN_SQL,
        values: [institutionId, b],
        timeoutMs: 10_000,
      }),
    'scan read model': (b) => lookup(institutionId, b),
    scanSpecimen: (b) => c.services.specimens.scanSpecimen(ctx, b),
  };
  const cpu: Record<string, number[]> = {};
  console.log(
    `${barcodes.length} lookups per layer and round (random barcodes of ${code}), ${rounds} rounds`,
  );
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(layers)) {
      if (round === 0) for (const b of barcodes) await run(b);
      const before = process.cpuUsage();
      for (const b of barcodes) await run(b);
      const used = process.cpuUsage(before);
      (cpu[name] ??= []).push((used.user + used.system) / barcodes.length);
    }
  }
  for (const [name, v] of Object.entries(cpu)) {
    const sorted = [...v].sort((a, b) => a - b);
    console.log(
      `  ${name.padEnd(24)} CPU us per lookup: median ${sorted[sorted.length >> 1]!.toFixed(1)}  min ${sorted[0]!.toFixed(1)}`,
    );
  }
} finally {
  await plain.end();
  await c.close();
}
