// Read model: a shipment's items with the facts of their tubes. Reads sharing_request_item with
// the specimen table (the provider's tube: type, quantity, SPREC, freeze-thaw count, place; the
// receiver's tube once received) and the container table (the box's grid and location chain, so
// the pick list sorts by freezer, rack, box and position) by name, in one statement: the manifest
// and the pick list are one query each, whatever the number of items. Sharing only reads here;
// the specimen ledger remains the only writer of specimens.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { LocationChainEntry } from '../storage/index.js';
import type { ItemState } from './sharing.lifecycle.js';

export type ShipmentItemFacts = {
  id: string;
  requestId: string;
  sampleCode: string;
  donorCode: string;
  state: ItemState;
  note: string | null;
  specimenId: string;
  barcode: string;
  type: string;
  quantity: number;
  unit: string;
  sprecCode: string | null;
  sprecVersion: string | null;
  freezeThawCount: number;
  status: string;
  holds: string[];
  positionRow: number | null;
  positionCol: number | null;
  /** the box (or plate) and its ancestors, root first; null when the tube has no place */
  chain: LocationChainEntry[] | null;
  receiverSpecimenId: string | null;
  receiverBarcode: string | null;
};

/** Items of the shipment: those reserved for it, shipped in it, or confirmed on receipt. */
export const SHIPMENT_ITEM_STATES = [
  'reserved',
  'shipped',
  'received',
  'damaged',
  'missing',
  'temperature_excursion',
] as const satisfies readonly ItemState[];

/** The request's items in `states`, with their tubes' facts, by sample code. */
export async function shipmentItems(
  db: DbOrTx,
  requestId: string,
  states: readonly ItemState[] = SHIPMENT_ITEM_STATES,
): Promise<ShipmentItemFacts[]> {
  const res = await db.execute<ShipmentItemFacts>(sql`
    select i.id, i.request_id as "requestId", i.sample_code as "sampleCode", i.donor_code as "donorCode",
           i.state, i.note, i.specimen_id as "specimenId",
           s.barcode, s.type, s.available_quantity::float8 as quantity, s.unit,
           s.sprec_code as "sprecCode", s.sprec_version as "sprecVersion",
           s.freeze_thaw_count as "freezeThawCount", s.status, s.holds,
           s.position_row as "positionRow", s.position_col as "positionCol",
           c.location_chain as chain,
           i.receiver_specimen_id as "receiverSpecimenId", r.barcode as "receiverBarcode"
      from sharing_request_item i
      join specimen s on s.id = i.specimen_id
      left join container c on c.id = s.container_id
      left join specimen r on r.id = i.receiver_specimen_id
     where i.request_id = ${requestId}
       and i.state::text = any(${`{${states.join(',')}}`}::text[])
     order by i.sample_code`);
  return res.rows;
}
