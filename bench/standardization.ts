import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startBackground } from '../src/runtime.js';
import {
  createStandardsService,
  RUN_CHUNK,
  type StandardizationRunRow,
} from '../src/modules/standards/index.js';
import { seedSynthetic } from '../src/seed/synthetic.js';

// `npx tsx bench/standardization.ts --count 100000 [--runs 2] [--mode worker|direct] [--chunk 2000]`
//
// Checks per second of one standards worker on a batch run over every specimen of one institution.
// The inventory comes from the synthetic seeder (bulk SQL: primaries, aliquots and derivatives
// in -80 °C freezers and LN2 tanks, hashed custody chains), in a dedicated database
// (biobank_bench_standards), seeded once per --count and reused. The bench adds, once: a current
// consent for nine donors in ten, and quality rules on every protocol (time to freezing, freeze-thaw
// count, RIN and concentration minimums with a QC hold, storage temperature range, required fields).
//
// --mode worker (default): the run goes through the outbox, the relay and BullMQ to the standards
//   worker, as `POST /v1/standardization/runs` does; the rate is processed / (completed_at -
//   started_at) of the run row, so queue latency is not counted.
// --mode direct: processRun is called in this process with --chunk specimens per chunk.
// The first run writes every result (inserts, qc_status changes, holds); later runs rewrite them.

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'worker' },
    chunk: { type: 'string', default: String(RUN_CHUNK) },
    'database-url': { type: 'string' },
  },
});
const count = Number(values.count);
const runs = Number(values.runs);
const chunk = Number(values.chunk);
if (!Number.isSafeInteger(count) || count < 1) throw new Error('--count must be a positive integer');
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
if (values.mode !== 'worker' && values.mode !== 'direct') throw new Error('--mode is worker or direct');

const url = new URL(
  values['database-url'] ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank',
);
if (!values['database-url']) url.pathname = '/biobank_bench_standards';
const config = loadConfig({
  ...process.env,
  DATABASE_URL: url.toString(),
  QUEUE_PREFIX: `bench-std-${process.pid}`,
  LOG_LEVEL: 'warn',
  OUTBOX_POLL_MS: '200',
  BIOBANK_SECRET: process.env.BIOBANK_SECRET ?? 'bench-secret-of-at-least-thirty-two-characters',
});
const log = createLogger('warn');
const say = (line: string) => process.stdout.write(`${line}\n`);

function machineBusy(): { busy: number; total: number } | null {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((s, x) => s + x, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

await migrateDatabase(config.DATABASE_URL);
const c = createContainer(config, log);
const workers = values.mode === 'worker' ? await startBackground(c) : null;
try {
  const code = `STD${count}`;
  say(
    `seeding ${count.toLocaleString('en')} specimens into ${url.pathname.slice(1)} (institution ${code}; reused when present)`,
  );
  const seeded = await seedSynthetic(c, {
    count,
    institutionCode: code,
    log: { info: (obj, msg) => say(`  ${msg} ${JSON.stringify(obj)}`) },
  });
  const institutionId = seeded.institutionId;
  const ctx: Ctx = {
    actor: { kind: 'system', name: 'bench', institutionId },
    requestId: `bench-std-${Date.now()}`,
    log,
  };

  // Consents for nine donors in ten (bulk SQL, once), so the consent check sees both outcomes.
  await c.db.execute(sql`
    insert into consent (id, institution_id, participant_id, protocol_id, document_version, signed_on, obtained_by, responses)
    select gen_random_uuid(), p.institution_id, p.id, p.protocol_id, 'v1', date '2020-01-01', 'bench', '{}'::jsonb
      from participant p
     where p.institution_id = ${institutionId} and abs(hashtext(p.id::text)) % 10 <> 0
       and not exists (select 1 from consent x where x.participant_id = p.id)`);
  const protocols = await c.services.participants.listProtocols(ctx);
  for (const p of protocols) {
    const current = await c.services.standards.getQualityRules(ctx, p.id);
    if (current.row) continue;
    await c.services.standards.putQualityRules(ctx, p.id, {
      rules: [
        {
          kind: 'maxTimeToFreezing',
          types: ['whole_blood', 'plasma', 'serum', 'buffy_coat'],
          maxHours: 4,
          severity: 'fail',
          holdOnFailure: false,
          whenMissing: 'warn',
        },
        { kind: 'maxFreezeThaw', max: 3, severity: 'fail', holdOnFailure: false },
        {
          kind: 'qualityMetric',
          id: 'rin-min',
          types: ['rna'],
          metric: 'rin',
          min: 7,
          severity: 'fail',
          holdOnFailure: true,
          whenMissing: 'warn',
        },
        {
          kind: 'qualityMetric',
          id: 'dna-concentration',
          types: ['dna'],
          metric: 'concentrationNgUl',
          min: 20,
          severity: 'warn',
          holdOnFailure: false,
          whenMissing: 'warn',
        },
        {
          kind: 'storageTemperature',
          types: ['plasma', 'serum', 'dna', 'rna'],
          minC: -90,
          maxC: -60,
          severity: 'fail',
          holdOnFailure: false,
          whenMissing: 'warn',
        },
        {
          kind: 'requiredFields',
          types: ['fresh_frozen_tissue'],
          fields: ['anatomicSite', 'collectedAt'],
          severity: 'warn',
          holdOnFailure: false,
        },
      ],
    });
  }
  await c.db.execute(sql`analyze specimen, custody_event, container, participant, consent`);

  const direct = createStandardsService({ db: c.db, ledger: c.services.ledger, chunkSize: chunk });
  const rates: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const cpu0 = machineBusy();
    const wall0 = performance.now();
    let run: StandardizationRunRow;
    if (values.mode === 'worker') {
      const started = await c.services.standards.startStandardizationRun(ctx, { filter: {} });
      let last = -1;
      for (;;) {
        run = await c.services.standards.getStandardizationRun(ctx, started.id);
        if (run.status === 'completed' || run.status === 'failed') break;
        if (run.processed !== last && run.total) {
          last = run.processed;
          process.stderr.write(
            `\r  run ${i}: ${run.processed.toLocaleString('en')}/${run.total.toLocaleString('en')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      process.stderr.write('\n');
    } else {
      const started = await direct.startStandardizationRun(ctx, { filter: {} }, { enqueue: false });
      run = await direct.processRun(ctx, started.id, {
        progress: (r) => {
          process.stderr.write(
            `\r  run ${i}: ${r.processed.toLocaleString('en')}/${(r.total ?? 0).toLocaleString('en')}`,
          );
        },
      });
      process.stderr.write('\n');
    }
    const wall = (performance.now() - wall0) / 1000;
    const cpu1 = machineBusy();
    if (run.status !== 'completed') throw new Error(`run ${run.id} ${run.status}: ${run.error ?? ''}`);
    const seconds = (run.completedAt!.getTime() - run.startedAt!.getTime()) / 1000;
    const rate = run.processed / seconds;
    rates.push(rate);
    const summary = run.summary as {
      specimens: Record<string, number>;
      checks: Record<string, Record<string, number>>;
    };
    const results = Object.values(summary.checks).reduce(
      (s, x) => s + (x.pass ?? 0) + (x.warn ?? 0) + (x.fail ?? 0),
      0,
    );
    const busy =
      cpu0 && cpu1
        ? ` (machine ${((100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total)).toFixed(0)}% busy)`
        : '';
    say(
      `run ${i} (${i === 1 ? 'first' : 're-run'}): ${run.processed.toLocaleString('en')} specimens, ${results.toLocaleString('en')} results in ${seconds.toFixed(1)} s ` +
        `(${wall.toFixed(1)} s wall): ${Math.round(rate).toLocaleString('en')} specimens checked/s, ${Math.round(results / seconds).toLocaleString('en')} results/s, ` +
        `${run.holdsPlaced} QC holds placed, skipped ${run.skipped}${busy}`,
    );
    say(
      `  specimens: ${summary.specimens.pass} pass, ${summary.specimens.warn} warn, ${summary.specimens.fail} fail; ` +
        Object.entries(summary.checks)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k} ${v.pass}/${v.warn}/${v.fail}`)
          .join(', '),
    );
  }
  say(
    `standardization, ${count.toLocaleString('en')} specimens, one worker (${values.mode}, ${values.mode === 'direct' ? chunk : RUN_CHUNK} per chunk): ` +
      rates.map((r) => `${Math.round(r).toLocaleString('en')}/s`).join(', ') +
      ' (target >= 5,000/s)',
  );
} finally {
  await workers?.close();
  await c.close();
}
