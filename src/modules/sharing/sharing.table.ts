import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz, updatedAt, versionColumn } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { USES } from '../../vocabulary/uses.js';
import { institutions } from '../institutions/institutions.table.js';
import { quantityUnit, specimens } from '../specimens/specimens.table.js';
import { ITEM_STATES, REQUEST_STATES } from './sharing.lifecycle.js';
import { agreementExists, shipmentExists, specimensTaken } from './sharing.errors.js';

export const SHIPPING_TEMPERATURES = ['ambient', '2_8c', 'dry_ice', 'ln2_dry_shipper'] as const;
export type ShippingTemperature = (typeof SHIPPING_TEMPERATURES)[number];

export const sharingUse = pgEnum('sharing_use', USES);
export const sharingRequestState = pgEnum('sharing_request_state', REQUEST_STATES);
export const sharingItemState = pgEnum('sharing_item_state', ITEM_STATES);
export const shippingTemperature = pgEnum('shipping_temperature', SHIPPING_TEMPERATURES);

/**
 * What a provider allows a requesting institution: the uses (consent uses), under which material
 * transfer agreement, between which dates, and how many days the provider gives itself to review
 * a request. Written by the provider's managers and admins only; both sides read it.
 */
export const sharingAgreements = pgTable(
  'sharing_agreement',
  {
    id: idColumn(),
    providerInstitutionId: uuid('provider_institution_id')
      .notNull()
      .references(() => institutions.id),
    requesterInstitutionId: uuid('requester_institution_id')
      .notNull()
      .references(() => institutions.id),
    uses: sharingUse('uses').array().notNull(),
    mtaReference: varchar('mta_reference', { length: 120 }).notNull(),
    validFrom: date('valid_from', { mode: 'string' }).notNull(),
    /** inclusive; null: open-ended */
    validUntil: date('valid_until', { mode: 'string' }),
    reviewDeadlineDays: integer('review_deadline_days').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    // One agreement per provider, requester and MTA: a renewed MTA is a new agreement.
    uniqueIndex('sharing_agreement_mta_unique').on(
      t.providerInstitutionId,
      t.requesterInstitutionId,
      t.mtaReference,
    ),
    index('sharing_agreement_requester_idx').on(t.requesterInstitutionId),
    check('sharing_agreement_not_self', sql`${t.providerInstitutionId} <> ${t.requesterInstitutionId}`),
    check('sharing_agreement_uses_nonempty', sql`cardinality(${t.uses}) > 0`),
    check('sharing_agreement_dates', sql`${t.validUntil} is null or ${t.validUntil} >= ${t.validFrom}`),
    check('sharing_agreement_review_days', sql`${t.reviewDeadlineDays} between 1 and 365`),
  ],
);

/**
 * A request from one institution to another for specimens fit for a purpose. `criteria` is the
 * parsed fitness-for-purpose document (sharing.criteria.ts). The deadline and reminder columns let
 * the scheduled jobs act once (idempotent re-runs).
 */
export const sharingRequests = pgTable(
  'sharing_request',
  {
    id: idColumn(),
    requesterInstitutionId: uuid('requester_institution_id')
      .notNull()
      .references(() => institutions.id),
    providerInstitutionId: uuid('provider_institution_id')
      .notNull()
      .references(() => institutions.id),
    agreementId: uuid('agreement_id')
      .notNull()
      .references(() => sharingAgreements.id),
    use: sharingUse('use').notNull(),
    ethicsApprovalRef: varchar('ethics_approval_ref', { length: 120 }).notNull(),
    criteria: jsonb('criteria').$type<Record<string, unknown>>().notNull().default({}),
    specimenCount: integer('specimen_count').notNull(),
    quantityPerSpecimen: numeric('quantity_per_specimen', {
      precision: 14,
      scale: 4,
      mode: 'number',
    }).notNull(),
    unit: quantityUnit('unit').notNull(),
    onePerDonor: boolean('one_per_donor').notNull().default(true),
    purpose: text('purpose').notNull(),
    state: sharingRequestState('state').notNull().default('draft'),
    /** why it was rejected, cancelled or expired */
    reason: text('reason'),
    submittedAt: tstz('submitted_at'),
    /** when the proposal job stored its proposal (re-runs see it and stop) */
    proposedAt: tstz('proposed_at'),
    reviewStartedAt: tstz('review_started_at'),
    /** the review deadline passed: reminder to the provider sent, then escalation to its admins */
    reviewRemindedAt: tstz('review_reminded_at'),
    reviewEscalatedAt: tstz('review_escalated_at'),
    /** reserved items not shipped by then go back to stock (scheduled job) */
    reservationDeadline: tstz('reservation_deadline'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    index('sharing_request_requester_idx').on(t.requesterInstitutionId, t.id),
    index('sharing_request_provider_idx').on(t.providerInstitutionId, t.id),
    // The deadline jobs read only the requests they may act on.
    index('sharing_request_review_due_idx')
      .on(t.submittedAt)
      .where(sql`${t.state} in ('submitted', 'under_review')`),
    index('sharing_request_reservation_due_idx')
      .on(t.reservationDeadline)
      .where(sql`${t.state} = 'reserved'`),
    check('sharing_request_not_self', sql`${t.providerInstitutionId} <> ${t.requesterInstitutionId}`),
    check('sharing_request_count', sql`${t.specimenCount} between 1 and 10000`),
    check('sharing_request_quantity', sql`${t.quantityPerSpecimen} > 0`),
  ],
);

/**
 * One provider specimen in a request. The requester knows it only by `sampleCode` and `donorCode`
 * (per request: tubes of one donor share a donor code, which says nothing about the participant).
 */
export const sharingRequestItems = pgTable(
  'sharing_request_item',
  {
    id: idColumn(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => sharingRequests.id),
    providerInstitutionId: uuid('provider_institution_id')
      .notNull()
      .references(() => institutions.id),
    specimenId: uuid('specimen_id')
      .notNull()
      .references(() => specimens.id),
    sampleCode: varchar('sample_code', { length: 16 }).notNull(),
    donorCode: varchar('donor_code', { length: 16 }).notNull(),
    state: sharingItemState('state').notNull().default('proposed'),
    /** the specimen the receiving institution made of it on receipt */
    receiverSpecimenId: uuid('receiver_specimen_id').references(() => specimens.id),
    note: varchar('note', { length: 500 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('sharing_item_specimen_unique').on(t.requestId, t.specimenId),
    uniqueIndex('sharing_item_sample_code_unique').on(t.requestId, t.sampleCode),
    // The database's last word against double-reserving: a specimen is held by one request at most.
    uniqueIndex('sharing_item_active_reservation')
      .on(t.specimenId)
      .where(sql`${t.state} in ('reserved', 'shipped')`),
    index('sharing_item_specimen_idx').on(t.specimenId),
    // A received tube is one specimen at the receiver: its custody link and a later withdrawal find the item by it.
    uniqueIndex('sharing_item_receiver_specimen_unique')
      .on(t.receiverSpecimenId)
      .where(sql`${t.receiverSpecimenId} is not null`),
  ],
);

/** A request's timeline: who did what, when, from which state to which, and why. Append-only. */
export const sharingRequestEvents = pgTable(
  'sharing_request_event',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => sharingRequests.id),
    actor: varchar('actor', { length: 120 }).notNull(),
    /** the institution the actor acted for; null for the system (jobs) */
    actorInstitutionId: uuid('actor_institution_id').references(() => institutions.id),
    callRequestId: varchar('call_request_id', { length: 128 }).notNull(),
    occurredAt: tstz('occurred_at').notNull(),
    action: varchar('action', { length: 40 }).notNull(),
    fromState: sharingRequestState('from_state'),
    toState: sharingRequestState('to_state').notNull(),
    reason: text('reason'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('sharing_request_event_request_idx').on(t.requestId, t.id)],
);

/** The physical shipment of a reserved request (one per request). */
export const shipments = pgTable(
  'shipment',
  {
    id: idColumn(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => sharingRequests.id),
    providerInstitutionId: uuid('provider_institution_id')
      .notNull()
      .references(() => institutions.id),
    requesterInstitutionId: uuid('requester_institution_id')
      .notNull()
      .references(() => institutions.id),
    courier: varchar('courier', { length: 120 }),
    trackingNumber: varchar('tracking_number', { length: 120 }),
    shippingTemperature: shippingTemperature('shipping_temperature'),
    dispatchedAt: tstz('dispatched_at'),
    receivedAt: tstz('received_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('shipment_request_unique').on(t.requestId),
    check('shipment_received_after_dispatch', sql`${t.receivedAt} is null or ${t.dispatchedAt} is not null`),
  ],
);

describeUnique('sharing_agreement_mta_unique', (v) => agreementExists(v.mta_reference ?? ''));
// Two approvals raced past the check: the other one took the specimen.
describeUnique('sharing_item_active_reservation', (v) =>
  specimensTaken(v.specimen_id ? [v.specimen_id] : []),
);
describeUnique('shipment_request_unique', () => shipmentExists());

export type AgreementRow = typeof sharingAgreements.$inferSelect;
export type SharingRequestRow = typeof sharingRequests.$inferSelect;
export type SharingItemRow = typeof sharingRequestItems.$inferSelect;
export type SharingEventRow = typeof sharingRequestEvents.$inferSelect;
export type ShipmentRow = typeof shipments.$inferSelect;
