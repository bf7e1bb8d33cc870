import type pg from 'pg';
import { chainPath } from '../storage/storage.repo.js';
import type { LocationChainEntry } from '../storage/storage.table.js';

// The scan lookup is the hottest path (a technician scans many tubes a minute, a rack reader 96
// at a time): one named prepared statement, no ORM in between. PostgreSQL writes the specimen's
// JSON exactly as `toSpecimenDto` would (times as `Date#toISOString` writes them), so Node neither
// parses nor re-serializes it; Node reads only the small `facts` it needs for the location path
// and the permitted uses. The holder's location chain is a column kept by a trigger (migration
// 0008), not a walk up the tree. test/scan-lookup.test.ts holds the JSON equal to the DTO.

/** `Date#toISOString` in SQL: UTC, milliseconds truncated like the driver's date parsing. */
const iso = (column: string) => `to_char(s.${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Exported for bench/floor.ts, which runs the very same statement without the service around it. */
export const SCAN_SQL = `
select json_build_object(
         'id', s.id, 'barcode', s.barcode, 'type', s.type, 'lineage', s.lineage, 'parentId', s.parent_id,
         'rootId', s.root_id, 'participantId', s.participant_id, 'protocolId', s.protocol_id,
         'anatomicSite', s.anatomic_site, 'pathologyStatus', s.pathology_status,
         'collectedAt', ${iso('collected_at')}, 'receivedAt', ${iso('received_at')},
         'processedAt', ${iso('processed_at')}, 'frozenAt', ${iso('frozen_at')},
         'sprecCode', s.sprec_code, 'sprecVersion', s.sprec_version, 'unit', s.unit,
         'initialQuantity', s.initial_quantity::float8, 'availableQuantity', s.available_quantity::float8,
         'quality', s.quality, 'freezeThawCount', s.freeze_thaw_count, 'status', s.status, 'holds', s.holds,
         'qcStatus', s.qc_status, 'externalIds', s.external_ids, 'createdAt', ${iso('created_at')},
         'updatedAt', ${iso('updated_at')}, 'version', s.version
       )::text as specimen,
       (select c.id || '/' || c.location_chain_version from container c where c.id = s.container_id) as holder,
       (select row_to_json(f)
          from (select s.participant_id as "participantId", s.holds, s.position_row as "positionRow",
                       s.position_col as "positionCol",
                       (select json_build_object('status', k.status, 'responses', k.responses, 'expiresOn', k.expires_on)
                          from consent k
                         where k.participant_id = s.participant_id and k.protocol_id = s.protocol_id
                           and k.superseded_at is null) as consent,
                       (select p.consent_tiers from collection_protocol p where p.id = s.protocol_id) as "protocolTiers") f
       )::text as facts
  from specimen s
 where s.institution_id = $1 and s.barcode = $2`;

/** What the service needs to add the location and the permitted uses. */
export interface ScanFacts {
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

/**
 * The scan lookup over a pool, with the holders it has seen: by container id and chain version
 * ("<id>/<version>"). Tubes are scanned box after box, so most scans find their box here; a
 * changed chain (a box moved, a freezer renamed) has a new version (migration 0008), hence a new
 * key, never a stale answer. Bounded, the oldest first out; one read per holder however many
 * scans ask for it at once, and a failed read is not kept.
 */
export function createScanLookup(pool: pg.Pool): ScanLookup {
  const holders = new Map<string, Promise<Holder>>();

  function holderOf(key: string): Promise<Holder> {
    const known = holders.get(key);
    if (known) return known;
    const loading = pool
      .query<{ chain: string }>({
        name: 'biobank_scan_holder',
        text: HOLDER_SQL,
        values: [key.slice(0, key.indexOf('/'))],
      })
      .then((r) => {
        // A chain read after a newer change is newer than its key asked: still current.
        const chain = r.rows[0] ? (JSON.parse(r.rows[0].chain) as LocationChainEntry[]) : [];
        const container = chain.at(-1);
        // A container a tube refers to cannot go (foreign key).
        if (!container) throw new Error(`container ${key} has no location chain`);
        return { container, path: chainPath(chain) };
      });
    loading.catch(() => holders.delete(key));
    if (holders.size >= HOLDERS_KEPT) holders.delete(holders.keys().next().value!);
    holders.set(key, loading);
    return loading;
  }

  return async (institutionId, barcode) => {
    const result = await pool.query<{ specimen: string; holder: string | null; facts: string }>({
      name: 'biobank_scan_lookup',
      text: SCAN_SQL,
      values: [institutionId, barcode],
    });
    const row = result.rows[0];
    if (!row) return undefined;
    return {
      specimenJson: row.specimen,
      holder: row.holder === null ? null : await holderOf(row.holder),
      facts: JSON.parse(row.facts) as ScanFacts,
    };
  };
}
