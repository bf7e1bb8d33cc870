// What the specimens module asks of sharing when it verifies a chain that began at another
// institution, as an interface the composition root fills: specimens never import sharing.
import type { DbOrTx } from '../../db/client.js';
import type { CustodyEventRow } from '../custody/index.js';
import type { SpecimenRow } from './specimens.table.js';

/** The link between a received specimen's chain and its provider's, as verification reports it. */
export interface CustodyLink {
  providerInstitutionId: string;
  /** the provider's `shipped` event hash the receiver's first event carries */
  shippedEventHash: string;
  /**
   * The provider's specimen, the one the shipment item names, has a `shipped` event with that hash,
   * and its chain verifies up to and including that event.
   */
  matches: boolean;
}

export interface CustodyLinkReader {
  /** The link a `received_from_institution` first event names, checked against the provider's chain. */
  linkOf(db: DbOrTx, specimen: SpecimenRow, first: CustodyEventRow): Promise<CustodyLink>;
}
