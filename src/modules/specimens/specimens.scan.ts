import type pg from 'pg';
import type { ContainerRow } from '../storage/storage.table.js';
import type { SpecimenRow } from './specimens.table.js';

// The scan lookup is the hottest path (a technician scans many tubes a minute): one named
// prepared statement returns the specimen with its container chain, no ORM in between.

/** Exported for bench/floor.ts, which runs the very same statement without the service around it. */
export const SCAN_SQL = `
select s.id, s.institution_id, s.barcode, s.type, s.lineage, s.parent_id, s.root_id, s.participant_id,
       s.protocol_id, s.anatomic_site, s.pathology_status, s.collected_at, s.received_at, s.processed_at,
       s.frozen_at, s.sprec_code, s.sprec_version, s.unit, s.initial_quantity::float8 as initial_quantity,
       s.available_quantity::float8 as available_quantity, s.quality, s.freeze_thaw_count, s.status, s.holds,
       s.qc_status, s.container_id, s.position_row, s.position_col, s.external_ids, s.custody_seq,
       s.custody_head, s.created_at, s.updated_at, s.version,
       (select json_agg(json_build_object('id', c.id, 'kind', c.kind, 'name', c.name, 'barcode', c.barcode,
                 'gridRows', c.grid_rows, 'gridCols', c.grid_cols, 'gridScheme', c.grid_scheme) order by a.ord)
          from container pc, unnest(pc.ancestor_ids || pc.id) with ordinality as a(id, ord)
          join container c on c.id = a.id
         where pc.id = s.container_id) as chain,
       (select json_build_object('status', k.status, 'responses', k.responses, 'expiresOn', k.expires_on)
          from consent k
         where k.participant_id = s.participant_id and k.protocol_id = s.protocol_id and k.superseded_at is null) as consent,
       (select p.consent_tiers from collection_protocol p where p.id = s.protocol_id) as protocol_tiers
  from specimen s
 where s.institution_id = $1 and s.barcode = $2`;

interface ScanRow {
  id: string;
  institution_id: string;
  barcode: string;
  type: SpecimenRow['type'];
  lineage: SpecimenRow['lineage'];
  parent_id: string | null;
  root_id: string;
  participant_id: string | null;
  protocol_id: string | null;
  anatomic_site: string | null;
  pathology_status: SpecimenRow['pathologyStatus'];
  collected_at: Date | null;
  received_at: Date | null;
  processed_at: Date | null;
  frozen_at: Date | null;
  sprec_code: string | null;
  sprec_version: string | null;
  unit: SpecimenRow['unit'];
  initial_quantity: number;
  available_quantity: number;
  quality: Record<string, number>;
  freeze_thaw_count: number;
  status: SpecimenRow['status'];
  holds: string[];
  qc_status: SpecimenRow['qcStatus'];
  container_id: string | null;
  position_row: number | null;
  position_col: number | null;
  external_ids: { system: string; value: string }[];
  custody_seq: number;
  custody_head: string | null;
  created_at: Date;
  updated_at: Date;
  version: number;
  consent: {
    status: 'active' | 'withdrawn' | 'expired';
    responses: Record<string, 'yes' | 'no' | 'unspecified'>;
    expiresOn: string | null;
  } | null;
  protocol_tiers: string[] | null;
  chain:
    Pick<ContainerRow, 'id' | 'kind' | 'name' | 'barcode' | 'gridRows' | 'gridCols' | 'gridScheme'>[] | null;
}

export interface ScanResult {
  row: SpecimenRow;
  chain: ScanRow['chain'];
  /** the donor's current consent and the protocol's tiers, for the permitted uses */
  consent: ScanRow['consent'];
  protocolTiers: string[] | null;
}

export async function scanLookup(
  pool: pg.Pool,
  institutionId: string,
  barcode: string,
): Promise<ScanResult | undefined> {
  const result = await pool.query<ScanRow>({
    name: 'biobank_scan_lookup',
    text: SCAN_SQL,
    values: [institutionId, barcode],
  });
  const r = result.rows[0];
  if (!r) return undefined;
  return {
    row: {
      id: r.id,
      institutionId: r.institution_id,
      barcode: r.barcode,
      type: r.type,
      lineage: r.lineage,
      parentId: r.parent_id,
      rootId: r.root_id,
      participantId: r.participant_id,
      protocolId: r.protocol_id,
      anatomicSite: r.anatomic_site,
      pathologyStatus: r.pathology_status,
      collectedAt: r.collected_at,
      receivedAt: r.received_at,
      processedAt: r.processed_at,
      frozenAt: r.frozen_at,
      sprecCode: r.sprec_code,
      sprecVersion: r.sprec_version,
      unit: r.unit,
      initialQuantity: r.initial_quantity,
      availableQuantity: r.available_quantity,
      quality: r.quality,
      freezeThawCount: r.freeze_thaw_count,
      status: r.status,
      holds: r.holds,
      qcStatus: r.qc_status,
      containerId: r.container_id,
      positionRow: r.position_row,
      positionCol: r.position_col,
      externalIds: r.external_ids,
      custodySeq: r.custody_seq,
      custodyHead: r.custody_head,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      version: r.version,
    },
    chain: r.chain,
    consent: r.consent,
    protocolTiers: r.protocol_tiers,
  };
}
