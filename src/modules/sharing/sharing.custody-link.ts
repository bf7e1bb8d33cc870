// The custody link between institutions, as the receiver's chain verification reports it. A tube
// received through a shipment starts its chain with `received_from_institution`, whose details
// (hashed into the receiver's chain) name the provider and the hash of the provider's `shipped`
// event. The link matches when the shipment item that made this specimen names the same provider,
// request and sample code, and the provider's tube has a `shipped` event with that hash in a chain
// that verifies up to it. The receiver learns only whether it matches, never the provider's ids.
import type { DbOrTx } from '../../db/client.js';
import { listCustodyEvents, verifyChain, type CustodyEventRow } from '../custody/index.js';
import type { CustodyLink, CustodyLinkReader, SpecimenRow } from '../specimens/index.js';
import { findItemByReceiverSpecimen } from './sharing.shipments.repo.js';

const text = (v: unknown) => (typeof v === 'string' ? v : '');

export const sharingCustodyLinks: CustodyLinkReader = {
  async linkOf(db: DbOrTx, specimen: SpecimenRow, first: CustodyEventRow): Promise<CustodyLink> {
    const claim = first.details;
    const link = {
      providerInstitutionId: text(claim.providerInstitutionId),
      shippedEventHash: text(claim.shippedEventHash),
    };
    const item = await findItemByReceiverSpecimen(db, specimen.id);
    if (
      !item ||
      item.providerInstitutionId !== link.providerInstitutionId ||
      item.requestId !== claim.requestId ||
      item.sampleCode !== claim.sampleCode
    )
      return { ...link, matches: false };
    const provider = await listCustodyEvents(db, item.specimenId);
    const shipped = provider.findIndex((e) => e.type === 'shipped' && e.hash === link.shippedEventHash);
    if (shipped < 0) return { ...link, matches: false };
    const upToShipped = provider.slice(0, shipped + 1);
    const verdict = verifyChain(upToShipped);
    return {
      ...link,
      matches:
        verdict.firstBreak === null && upToShipped[shipped]!.institutionId === link.providerInstitutionId,
    };
  },
};
