// DTO mapping for the sharing module: used by REST routes and GraphQL resolvers alike.
import type { z } from 'zod';
import type { agreementDto } from './sharing.agreements.schemas.js';
import { allowedRequestActions } from './sharing.lifecycle.js';
import type { SharingItemView, SharingRequestView } from './sharing.requests.js';
import type { sharingEventDto, sharingItemDto, sharingRequestDto } from './sharing.requests.schemas.js';
import type { AgreementRow, SharingEventRow } from './sharing.table.js';
import { eventSeenBy } from './sharing.timeline-view.js';

export const toAgreementDto = (a: AgreementRow): z.infer<typeof agreementDto> => ({
  id: a.id,
  providerInstitutionId: a.providerInstitutionId,
  requesterInstitutionId: a.requesterInstitutionId,
  uses: a.uses,
  mtaReference: a.mtaReference,
  validFrom: a.validFrom,
  validUntil: a.validUntil,
  reviewDeadlineDays: a.reviewDeadlineDays,
  createdAt: a.createdAt.toISOString(),
  updatedAt: a.updatedAt.toISOString(),
  version: a.version,
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toSharingRequestDto = (v: SharingRequestView): z.infer<typeof sharingRequestDto> => {
  const r = v.row;
  return {
    id: r.id,
    requesterInstitutionId: r.requesterInstitutionId,
    providerInstitutionId: r.providerInstitutionId,
    agreementId: r.agreementId,
    use: r.use,
    ethicsApprovalRef: r.ethicsApprovalRef,
    criteria: r.criteria,
    specimenCount: r.specimenCount,
    quantityPerSpecimen: r.quantityPerSpecimen,
    unit: r.unit,
    onePerDonor: r.onePerDonor,
    purpose: r.purpose,
    state: r.state,
    reason: r.reason,
    side: v.side,
    // Past its deadline a reservation can no longer ship (RESERVATION_EXPIRED) while the expiry
    // job has yet to release it: `ship` is not offered then.
    allowedActions: allowedRequestActions(r.state, v.side).filter(
      (a) => a !== 'ship' || r.reservationDeadline === null || r.reservationDeadline.getTime() > Date.now(),
    ),
    submittedAt: iso(r.submittedAt),
    proposedAt: iso(r.proposedAt),
    reviewStartedAt: iso(r.reviewStartedAt),
    reviewRemindedAt: iso(r.reviewRemindedAt),
    reviewEscalatedAt: iso(r.reviewEscalatedAt),
    reservationDeadline: iso(r.reservationDeadline),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    version: r.version,
  };
};

/** The requester sees an item by its codes, type and SPREC; the provider also sees its specimen. */
export const toSharingItemDto = (v: SharingItemView): z.infer<typeof sharingItemDto> => ({
  id: v.item.id,
  sampleCode: v.item.sampleCode,
  donorCode: v.item.donorCode,
  state: v.item.state,
  type: v.specimen.type,
  sprecCode: v.specimen.sprecCode,
  specimen: v.side === 'provider' ? { id: v.specimen.id, barcode: v.specimen.barcode } : null,
});

export const toSharingEventDto = (e: SharingEventRow): z.infer<typeof sharingEventDto> => ({
  id: e.id,
  at: e.occurredAt.toISOString(),
  actor: e.actor,
  actorInstitutionId: e.actorInstitutionId,
  action: e.action,
  fromState: e.fromState,
  toState: e.toState,
  reason: e.reason,
  details: e.details,
});

/** A notified transition as one side sees it: published live, read by the GraphQL subscription. */
export const toSharingRequestUpdate = (v: SharingRequestView, e: SharingEventRow) => ({
  request: toSharingRequestDto(v),
  event: toSharingEventDto(eventSeenBy(e, v.row, v.side)),
});
export type SharingRequestUpdate = ReturnType<typeof toSharingRequestUpdate>;
