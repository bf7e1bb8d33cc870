// Synthetic inventory for load tests and demos at scale (`seed --synthetic N`): one institution
// with sites > -80 °C freezers and LN2 tanks > racks (5 x 4 slots) > 9 x 9 cryoboxes or 8 x 12
// nucleic-acid boxes, protocols and participants, collections with realistic lineage (primaries,
// aliquots, plasma / serum / buffy coat / DNA / RNA / PBMC derivatives), every tube in a position
// of its own, and custody chains hashed by the ledger, so GET /v1/specimens/{id}/custody/verify
// holds for every tube.
//
// The institution, its protocols and keys are made through the services. Everything below them
// goes in bulk in ONE transaction, through the owning modules' bulk writers: containers and
// participants as rows, specimens through the ledger's bulk command, which replays every history
// through the lifecycle table and hashes the chains. A failed run leaves no inventory behind, and
// a run for an institution that already has specimens does nothing. Per-specimen audit rows are
// replaced by one summary audit row.
//
// The generator lives beside this file: synthetic.random.ts (deterministic randomness),
// synthetic.protocols.ts (cohorts), synthetic.plan.ts (what a collection yields), synthetic.sprec.ts
// (stated SPREC codes), synthetic.storage.ts (the freezer tree) and synthetic.history.ts (donors,
// tubes and their custody events).
import { sql } from 'drizzle-orm';
import type { Container } from '../container.js';
import type { Ctx } from '../context.js';
import { ROLES, type Role } from '../auth/roles.js';
import type { Tx } from '../db/client.js';
import { recordAudit } from '../modules/audit/index.js';
import { findInstitutionByCode } from '../modules/institutions/index.js';
import { countParticipants, insertParticipants } from '../modules/participants/index.js';
import {
  countSpecimens,
  institutionHasSpecimens,
  prepareSpecimenImport,
  type SpecimenImport,
} from '../modules/specimens/index.js';
import { countContainers, insertContainers } from '../modules/storage/index.js';
import { InventoryWorld, type Batch } from './synthetic.history.js';
import { PROTOCOLS } from './synthetic.protocols.js';
import { DAY, mulberry32 } from './synthetic.random.js';

export interface SeedProgressLog {
  info(obj: object, msg: string): void;
}

export interface SyntheticSeedOptions {
  count: number;
  /** default SYN */
  institutionCode?: string;
  log: SeedProgressLog;
  /** specimens per bulk statement (default 5,000) */
  batchSize?: number;
  /** PRNG seed: the same seed and count give the same inventory shape (ids and keys differ) */
  seed?: number;
}

export interface SyntheticSeedResult {
  /** true when the institution already had specimens: nothing was written, no keys were made */
  skipped: boolean;
  institutionId: string;
  institutionCode: string;
  specimens: number;
  containers: number;
  participants: number;
  custodyEvents: number;
  seconds: number;
  /** one new key per role (empty when skipped; make one with `keys create`) */
  keys: { role: Role; token: string }[];
}

/** The seed's one summary audit row is named after the command that wrote it (`seed --synthetic`
 * calls seedSynthetic); it is a CLI command, not a REST operation. */
const SEED_AUDIT_ACTION = 'seedSynthetic';

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function systemCtx(name: string, institutionId: string | null, log: Ctx['log']): Ctx {
  return { actor: { kind: 'system', name, institutionId }, requestId: `${name}-${Date.now()}`, log };
}

/** One batch, parents first: containers, donors, then the tubes with their histories. */
async function writeBatch(tx: Tx, institutionId: string, b: Batch, specimens: SpecimenImport): Promise<void> {
  await insertContainers(tx, institutionId, b.containers);
  await insertParticipants(tx, institutionId, b.participants);
  await specimens.write(tx);
}

/** Protocols through the service (reused when a failed run already made them), in PROTOCOLS order. */
async function protocolIds(c: Container, ctx: Ctx): Promise<string[]> {
  const existing = new Map(
    (await c.services.participants.listProtocols(ctx)).map((p) => [p.code, p.id] as const),
  );
  const ids: string[] = [];
  for (const [i, p] of PROTOCOLS.entries()) {
    const id =
      existing.get(p.code) ??
      (
        await c.services.participants.createProtocol(ctx, {
          code: p.code,
          title: p.title,
          ethicsApprovalRef: `EC-${p.code}-2018-${String(i + 11).padStart(3, '0')}`,
          consentTiers: p.tiers,
        })
      ).id;
    ids.push(id);
  }
  return ids;
}

/**
 * Seeds `count` synthetic specimens for one institution (default SYN), creating it, its
 * protocols and one API key per role through the real services. Skips (writes nothing, makes no
 * keys) when that institution already has specimens. Progress goes to `opts.log.info`.
 */
export async function seedSynthetic(c: Container, opts: SyntheticSeedOptions): Promise<SyntheticSeedResult> {
  const count = opts.count;
  if (!Number.isSafeInteger(count) || count < 1 || count > 20_000_000)
    throw new RangeError(`count must be an integer between 1 and 20,000,000, got ${count}`);
  const code = opts.institutionCode ?? 'SYN';
  const batchSize = opts.batchSize ?? 5_000;
  const log = opts.log;
  const started = Date.now();
  const rootCtx = systemCtx('seed-synthetic', null, c.log);

  const institution =
    (await findInstitutionByCode(c.db, code)) ??
    (await c.services.institutions.createInstitution(rootCtx, {
      code,
      name: `Synthetic biobank ${code}`,
      kind: 'biobank',
    }));
  const skipped = async (): Promise<SyntheticSeedResult> => {
    const n = {
      specimens: await countSpecimens(c.db, institution.id),
      containers: await countContainers(c.db, institution.id),
      participants: await countParticipants(c.db, institution.id),
    };
    log.info({ institution: code, ...n }, 'synthetic seed skipped: the institution already has specimens');
    return {
      skipped: true,
      institutionId: institution.id,
      institutionCode: code,
      ...n,
      custodyEvents: 0,
      seconds: (Date.now() - started) / 1000,
      keys: [],
    };
  };
  if (await institutionHasSpecimens(c.db, institution.id)) return skipped();

  const ctx = systemCtx('seed-synthetic', institution.id, c.log);
  const protocols = await protocolIds(c, ctx);
  log.info({ institution: code, count, batchSize }, 'synthetic seed: generating');
  const seed = opts.seed ?? 20_240_601;
  const world = new InventoryWorld(protocols, mulberry32(seed), mulberry32(seed ^ 0x5e7c));
  const seeded = await c.db.transaction(async (tx) => {
    // Nothing is lost on a crash but the seed itself, which rolls back anyway.
    await tx.execute(sql`set local synchronous_commit = off`);
    // Two concurrent seeds of one institution: the second waits, then finds the specimens.
    await tx.execute(sql`select pg_advisory_xact_lock(7302, hashtext(${institution.id}))`);
    if (await institutionHasSpecimens(tx, institution.id)) return false;

    // Collections spread over six years, oldest first, so freezers fill in time order.
    const end = Date.now() - DAY;
    const start = end - 6 * 365 * DAY;
    const expectedCollections = Math.max(1, Math.round(count / 11));
    const step = (end - start) / expectedCollections;
    world.addSites(new Date(start - 30 * DAY));

    let pending: Promise<void> | null = null;
    let written = 0;
    let collection = 0;
    let lastReport = Date.now();
    while (world.specimens < count) {
      const at = Math.min(end, start + (collection + world.rng()) * step);
      world.collection(collection++, new Date(Math.floor(at / 1000) * 1000), count - world.specimens);
      if (collection % 100 === 0) await yieldToIo();
      if (world.batch.specimens.length >= batchSize || world.specimens >= count) {
        const batch = world.takeBatch();
        // The ledger replays and hashes this batch while the last one is written; then this one is
        // written while the next is generated: one batch in flight at a time.
        const prepared = prepareSpecimenImport(ctx, institution.id, batch.specimens);
        prepared.catch(() => undefined);
        if (pending) await pending;
        const specimens = await prepared;
        const p: Promise<void> = writeBatch(tx, institution.id, batch, specimens).then(() => {
          written += batch.specimens.length;
        });
        p.catch(() => undefined);
        pending = p;
        if (Date.now() - lastReport > 5_000 || world.specimens >= count) {
          lastReport = Date.now();
          const seconds = (Date.now() - started) / 1000;
          log.info(
            {
              generated: world.specimens,
              written,
              of: count,
              percent: Math.floor((world.specimens / count) * 100),
              perSecond: Math.round(world.specimens / seconds),
              seconds: Math.round(seconds),
            },
            'synthetic seed progress',
          );
        }
      }
    }
    if (pending) await pending;
    await recordAudit(tx, ctx, {
      action: SEED_AUDIT_ACTION,
      entityType: 'institution',
      entityId: institution.id,
      institutionId: institution.id,
      after: {
        specimens: world.specimens,
        containers: world.containers,
        participants: world.participants.length,
        custodyEvents: world.events,
      },
    });
    log.info({ specimens: world.specimens }, 'synthetic seed: committing');
    return true;
  });
  if (!seeded) return skipped();
  // Fresh statistics, so the planner sees a million rows rather than an empty table.
  await c.db.execute(sql`analyze`);

  const keys: SyntheticSeedResult['keys'] = [];
  for (const role of ROLES) {
    const { token } = await c.services.apiKeys.createApiKey(rootCtx, {
      institutionId: institution.id,
      role,
      name: `synthetic ${role}`,
    });
    keys.push({ role, token });
  }
  const seconds = (Date.now() - started) / 1000;
  log.info(
    {
      institution: code,
      specimens: world.specimens,
      containers: world.containers,
      participants: world.participants.length,
      custodyEvents: world.events,
      seconds: Math.round(seconds * 10) / 10,
    },
    'synthetic seed done',
  );
  return {
    skipped: false,
    institutionId: institution.id,
    institutionCode: code,
    specimens: world.specimens,
    containers: world.containers,
    participants: world.participants.length,
    custodyEvents: world.events,
    seconds,
    keys,
  };
}
