import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startBackground } from '../src/runtime.js';
import { summarize } from './stats.js';

// `npx tsx bench/consent-cascade.ts [--specimens 1000] [--rounds 5]`: a participant with N
// specimens (primaries with aliquots) withdraws consent; measures the time from the withdrawal's
// commit until the cascade row reads completed (every tube held, one custody event each), with the
// outbox relay and the consent worker running in this process as `biobank serve` runs them.

const { values } = parseArgs({
  options: { specimens: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } },
});
const specimens = Number(values.specimens);
const rounds = Number(values.rounds);

const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank');
base.pathname = '/biobank_bench_consent';
const config = loadConfig({
  ...process.env,
  DATABASE_URL: base.toString(),
  QUEUE_PREFIX: `bench-consent-${process.pid}`,
  LOG_LEVEL: 'warn',
  OUTBOX_POLL_MS: '1000',
  BIOBANK_SECRET: process.env.BIOBANK_SECRET ?? 'bench-secret-of-at-least-thirty-two-characters',
});
await migrateDatabase(config.DATABASE_URL);
const log = createLogger('warn');
const c = createContainer(config, log);
const workers = await startBackground(c);

const sys: Ctx = { actor: { kind: 'system', name: 'bench', institutionId: null }, requestId: 'bench', log };
const code = `BC${Date.now().toString(36).toUpperCase()}`;
const institution = await c.services.institutions.createInstitution(sys, {
  code,
  name: 'Cascade bench',
  kind: 'biobank',
});
const ctx: Ctx = { ...sys, actor: { kind: 'system', name: 'bench', institutionId: institution.id } };
const protocol = await c.services.participants.createProtocol(ctx, {
  code: 'BENCH',
  title: 'Cascade benchmark',
  ethicsApprovalRef: 'EC-0',
  consentTiers: ['GENETIC_RESEARCH'],
});
const freezer = await c.services.storage.createContainer(ctx, { kind: 'freezer', barcode: `${code}-F` });
const bag = await c.services.storage.createContainer(ctx, {
  kind: 'box',
  barcode: `${code}-B`,
  parentId: freezer.container.id,
});

const timings: number[] = [];
for (let round = 0; round < rounds; round++) {
  const participant = await c.services.participants.registerParticipant(ctx, {
    protocolId: protocol.id,
    protocolParticipantId: `P${round}`,
    sex: 'female',
    diagnoses: [],
  });
  const consent = await c.services.consent.recordConsent(ctx, {
    participantId: participant.id,
    documentVersion: 'v1',
    signedOn: '2024-01-01',
    obtainedBy: 'bench',
    responses: { GENETIC_RESEARCH: 'yes' },
  });
  // Half primaries, half aliquots of them: the cascade must follow lineage.
  const primaries = Math.ceil(specimens / 2);
  const registered = await c.services.specimens.registerSpecimens(
    ctx,
    Array.from({ length: primaries }, (_, i) => ({
      barcode: `${code}-${round}-${i}`,
      type: 'plasma' as const,
      quantity: 2,
      participantId: participant.id,
      containerId: bag.container.id,
    })),
  );
  for (const p of registered.slice(0, specimens - primaries)) {
    await c.services.specimens.aliquotSpecimen(ctx, p.row.id, { aliquots: [{ quantity: 1 }] });
  }
  const { cascade } = await c.services.consent.withdrawConsent(ctx, consent.id, { scope: 'stop_future_use' });
  const committed = performance.now();
  for (;;) {
    const r = await c.db.execute<{ status: string; changed: number }>(
      sql`select status, specimens_changed as changed from consent_cascade where id = ${cascade.id}`,
    );
    if (r.rows[0]?.status === 'completed') {
      if (r.rows[0].changed !== specimens)
        throw new Error(`cascade held ${r.rows[0].changed}, expected ${specimens}`);
      break;
    }
    if (performance.now() - committed > 60_000) throw new Error('cascade did not complete within 60 s');
    await new Promise((res) => setTimeout(res, 5));
  }
  timings.push(performance.now() - committed);
  process.stdout.write(
    `round ${round + 1}: ${specimens} specimens held in ${timings.at(-1)!.toFixed(0)} ms\n`,
  );
}
const s = summarize(timings);
process.stdout.write(
  `consent cascade, ${specimens} specimens: median ${s.p50.toFixed(0)} ms, max ${s.max.toFixed(0)} ms over ${rounds} rounds (target < 2000 ms)\n`,
);
await workers.close();
await c.close();
