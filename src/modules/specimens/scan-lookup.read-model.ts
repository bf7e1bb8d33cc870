import type pg from 'pg';
import { queryTextRows, type TextRow } from '../../db/text-rows.js';
import { databaseBusy } from '../../errors.js';
import { chainPath, type LocationChainEntry } from '../storage/index.js';
import { specimenJsonSql } from './specimen-json.js';

// Read model: the scan lookup reads the specimen with its holder container's location chain
// (storage), the donor's current consent (consent) and the protocol's tiers (participants) in ONE
// statement, because it is the hottest call; those modules stay the only writers of their tables.
//
// The scan lookup is the hottest path (a technician scans many tubes a minute, a rack reader 96
// at a time): named prepared statements, no ORM in between, lookups arriving together batched.
// PostgreSQL writes the specimen's JSON exactly as `toSpecimenDto` would (specimen-json.ts, the
// same object the GraphQL page reads), so Node neither parses nor re-serializes it; Node reads only
// the small `facts` it needs for the location path, the permitted uses and the ETag. The holder's location
// chain is a column kept by a trigger (migration 0008), not a walk up the tree.
// test/scan-lookup.test.ts holds the JSON equal to the DTO.

/** The scan's output columns over `specimen s`: the specimen's JSON, its holder key, its facts. */
const SCAN_COLUMNS = `${specimenJsonSql('s')} as specimen,
       (select c.id || '/' || c.location_chain_version from container c where c.id = s.container_id) as holder,
       (select row_to_json(f)
          from (select s.version, s.participant_id as "participantId", s.holds, s.position_row as "positionRow",
                       s.position_col as "positionCol",
                       (select json_build_object('status', k.status, 'responses', k.responses, 'expiresOn', k.expires_on)
                          from consent k
                         where k.participant_id = s.participant_id and k.protocol_id = s.protocol_id
                           and k.superseded_at is null) as consent,
                       (select p.consent_tiers from collection_protocol p where p.id = s.protocol_id) as "protocolTiers") f
       )::text as facts`;

/**
 * One barcode's lookup ($1 institution, $2 barcode). Exported for bench/floor.ts, which runs it
 * once per request without the service around it.
 */
export const SCAN_SQL = `
select ${SCAN_COLUMNS}
  from specimen s
 where s.institution_id = $1 and s.barcode = $2`;

/**
 * Many lookups in one statement ($1 institutions, $2 barcodes, pairwise): each found row carries
 * the ordinal of the pair that asked for it. The unique (institution_id, barcode) index answers
 * each pair, as it answers SCAN_SQL. The arrays are read through sub-selects so that the planner
 * cannot count them: with their length known, every small batch looked cheaper re-planned than
 * the cached generic plan, and PostgreSQL planned each execution anew (~0.3 ms; it shows in
 * `pg_prepared_statements.custom_plans`).
 */
const SCAN_BATCH_SQL = `
select q.n::int4 as n, ${SCAN_COLUMNS}
  from unnest((select $1::uuid[]), (select $2::text[])) with ordinality as q(institution_id, barcode, n)
  join specimen s on s.institution_id = q.institution_id and s.barcode = q.barcode`;

/** What the service needs to add the location and the permitted uses. */
export interface ScanFacts {
  /** the specimen's version, for the answer's ETag */
  version: number;
  participantId: string | null;
  holds: string[];
  positionRow: number | null;
  positionCol: number | null;
  /** the donor's current consent, and the protocol's tiers */
  consent: {
    status: 'active' | 'withdrawn' | 'expired';
    responses: Record<string, 'yes' | 'no' | 'unspecified'>;
    expiresOn: string | null;
  } | null;
  protocolTiers: string[] | null;
}

/** A holder container as the location shows it: itself, and the path down to it. */
export interface Holder {
  container: LocationChainEntry;
  /** "Freezer F-01 / Rack R3 / Box BX-0042" */
  path: string;
}

export interface ScanResult {
  /** the specimen as `toSpecimenDto` writes it, without `location` */
  specimenJson: string;
  /** null when the tube is in no container */
  holder: Holder | null;
  facts: ScanFacts;
}

const HOLDER_SQL = 'select location_chain::text as chain from container where id = $1';

/** Holders a process keeps, at most (each some hundred bytes). */
const HOLDERS_KEPT = 50_000;

export type ScanLookup = (institutionId: string, barcode: string) => Promise<ScanResult | undefined>;

export interface ScanLookupOptions {
  /** scan statements running at once (default 2); lookups arriving meanwhile wait and go together */
  statementsInFlight?: number;
  /** lookups in one statement, at most */
  batchMax?: number;
  /**
   * How long a statement may run, and a lookup wait for one to carry it, before failing with a
   * 503 (pg-errors.ts): with lookups queued behind it, a stuck statement must not hold every
   * scan. Waiting for a pool connection has the pool's own deadline.
   */
  timeoutMs?: number;
}

type ScanRow = { specimen: string; holder: string | null; facts: string };

/** A scan statement's row, read as column texts: [specimen, holder, facts]; a batch's leads with n. */
const scanRowAt = (r: TextRow, at: number): ScanRow => ({
  specimen: r[at]!,
  holder: r[at + 1] ?? null,
  facts: r[at + 2]!,
});

interface WaitingScan {
  institutionId: string;
  barcode: string;
  /** performance.now() when asked */
  since: number;
  resolve: (row: ScanRow | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * The scan lookup over a pool. Lookups that arrive together share one statement. A lookup that
 * finds nothing running or waiting goes at once, alone, as SCAN_SQL; the others queue, and once
 * fewer than `statementsInFlight` statements run (two by default) the next statement answers all
 * of them, up to `batchMax`. Under a storm of scans PostgreSQL and the driver then pay the
 * per-statement cost once per batch instead of once per tube, which more than halves the CPU a
 * lookup costs (BENCHMARKS.md). Two statements at a time keep two PostgreSQL backends busy while
 * Node answers: one at a time made larger batches, but left a core idle behind every statement
 * and served 4 scanners at 0.56x of the floor (BENCHMARKS.md); other work (writes, the holder
 * reads below) keeps the rest of the pool. Each
 * lookup's answer is read by the statement that carried it, after the request arrived: never
 * older than the request. Statements and waits have a deadline (`timeoutMs`), so one stuck
 * statement fails the lookups behind it with a 503 instead of holding them.
 *
 * Holders are kept by container id and chain version ("<id>/<version>"). Tubes are scanned box
 * after box, so most scans find their box here; a changed chain (a box moved, a freezer renamed)
 * has a new version (migration 0008), hence a new key, never a stale answer. Bounded, the oldest
 * first out; one read per holder however many scans ask for it at once, and a failed read is not
 * kept.
 */
export function createScanLookup(pool: pg.Pool, options: ScanLookupOptions = {}): ScanLookup {
  const statementsInFlight = options.statementsInFlight ?? 2;
  const batchMax = options.batchMax ?? 200;
  const timeoutMs = options.timeoutMs ?? 10_000;
  for (const [name, value] of Object.entries({ statementsInFlight, batchMax, timeoutMs })) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`scan lookup: ${name} must be a positive integer`);
  }
  // A holder being read is its promise until the read ends, then the holder itself: a scan of a
  // known box waits for nothing more than its own statement.
  const holders = new Map<string, Holder | Promise<Holder>>();
  let waiting: WaitingScan[] = [];
  let running = 0;
  let flushQueued = false;

  function holderOf(key: string): Holder | Promise<Holder> {
    const known = holders.get(key);
    if (known) return known;
    const loading = queryTextRows(pool, {
      name: 'biobank_scan_holder',
      text: HOLDER_SQL,
      values: [key.slice(0, key.indexOf('/'))],
      timeoutMs,
    }).then((rows) => {
      // A chain read after a newer change is newer than its key asked: still current.
      const text = rows[0]?.[0];
      const chain = text ? (JSON.parse(text) as LocationChainEntry[]) : [];
      const container = chain.at(-1);
      // A container a tube refers to cannot go (foreign key).
      if (!container) throw new Error(`container ${key} has no location chain`);
      const holder: Holder = { container, path: chainPath(chain) };
      // Unless it was pushed out meanwhile (the map is bounded).
      if (holders.get(key) === loading) holders.set(key, holder);
      return holder;
    });
    loading.catch(() => {
      if (holders.get(key) === loading) holders.delete(key);
    });
    if (holders.size >= HOLDERS_KEPT) holders.delete(holders.keys().next().value!);
    holders.set(key, loading);
    return loading;
  }

  async function runBatch(batch: WaitingScan[]): Promise<void> {
    try {
      if (batch.length === 1) {
        const only = batch[0]!;
        const rows = await queryTextRows(pool, {
          name: 'biobank_scan_lookup',
          text: SCAN_SQL,
          values: [only.institutionId, only.barcode],
          timeoutMs,
        });
        only.resolve(rows[0] ? scanRowAt(rows[0], 0) : undefined);
        return;
      }
      const rows = await queryTextRows(pool, {
        name: 'biobank_scan_lookup_batch',
        text: SCAN_BATCH_SQL,
        values: [batch.map((w) => w.institutionId), batch.map((w) => w.barcode)],
        timeoutMs,
      });
      for (const row of rows) batch[Number(row[0]) - 1]!.resolve(scanRowAt(row, 1));
      // A promise settles once: only those no row answered learn here that they were not found.
      for (const w of batch) w.resolve(undefined);
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  // Deferred to setImmediate: the lookups asked in this turn of the event loop go together.
  function queueFlush(): void {
    if (flushQueued || running >= statementsInFlight || waiting.length === 0) return;
    flushQueued = true;
    setImmediate(flush);
  }

  function flush(): void {
    flushQueued = false;
    const now = performance.now();
    while (running < statementsInFlight && waiting.length > 0) {
      const batch: WaitingScan[] = [];
      let taken = 0;
      for (; taken < waiting.length && batch.length < batchMax; taken++) {
        const w = waiting[taken]!;
        if (now - w.since >= timeoutMs) w.reject(databaseBusy());
        else batch.push(w);
      }
      waiting = taken === waiting.length ? [] : waiting.slice(taken);
      if (batch.length === 0) continue;
      running++;
      void runBatch(batch).finally(() => {
        running--;
        queueFlush();
      });
    }
  }

  return async (institutionId, barcode) => {
    const row = await new Promise<ScanRow | undefined>((resolve, reject) => {
      waiting.push({ institutionId, barcode, since: performance.now(), resolve, reject });
      // Nothing running and nobody waiting: no batch to wait for.
      if (running === 0 && waiting.length === 1 && !flushQueued) flush();
      else queueFlush();
    });
    if (!row) return undefined;
    let holder = row.holder === null ? null : holderOf(row.holder);
    if (holder instanceof Promise) holder = await holder;
    return { specimenJson: row.specimen, holder, facts: JSON.parse(row.facts) as ScanFacts };
  };
}
