import { z } from 'zod';
import { pageQuery } from '../../pagination.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../../vocabulary/specimen-types.js';
import { USES } from '../../vocabulary/uses.js';
import { quantityAmount } from '../../vocabulary/quantities.js';
import { criteriaSchema } from './sharing.criteria.js';
import { ITEM_STATES, REQUEST_ACTIONS, REQUEST_STATES } from './sharing.lifecycle.js';
import { instant } from '../../clock.js';

// Sharing request schemas REST and GraphQL both validate with.

const requestFields = {
  use: z.enum(USES).describe('the consent use the specimens are wanted for; the agreement must allow it'),
  ethicsApprovalRef: z.string().trim().min(1).max(120).describe("the requesting study's ethics approval"),
  criteria: criteriaSchema.describe('fitness for purpose: what a specimen must be to serve the study'),
  specimenCount: z.number().int().min(1).max(10_000),
  quantityPerSpecimen: quantityAmount().describe(
    'how much of each specimen, in `unit` (kept with 4 decimals)',
  ),
  unit: z.enum(SPECIMEN_UNITS),
  onePerDonor: z.boolean().describe('at most one specimen per donor (default true)'),
  purpose: z.string().trim().min(1).max(4000).describe('what the specimens are for, in words'),
};

export const createSharingRequestInput = z
  .object({
    providerInstitutionId: z.uuid().describe('the institution asked for specimens'),
    agreementId: z.uuid().describe('the provider’s agreement with the requesting institution'),
    ...requestFields,
    criteria: requestFields.criteria.default({}),
    onePerDonor: requestFields.onePerDonor.default(true),
  })
  .strict();
export type CreateSharingRequestInput = z.infer<typeof createSharingRequestInput>;

/** Only the fields given change (a draft only). */
export const updateSharingRequestInput = z
  .object({ agreementId: z.uuid(), ...requestFields })
  .partial()
  .strict();
export type UpdateSharingRequestInput = z.infer<typeof updateSharingRequestInput>;

export const REQUEST_SIDES = ['requester', 'provider'] as const;

export const listSharingRequestsQuery = pageQuery.extend({
  side: z.enum(REQUEST_SIDES).optional().describe('only those where the caller’s institution is this side'),
  state: z.enum(REQUEST_STATES).optional(),
});
export type ListSharingRequestsQuery = z.infer<typeof listSharingRequestsQuery>;

const barcode = z.string().trim().min(1).max(64);

export const editSharingProposalInput = z
  .object({
    add: z.array(barcode).max(500).default([]).describe('barcodes of specimens to add'),
    remove: z.array(z.uuid()).max(500).default([]).describe('ids of items to take out'),
    swap: z
      .array(z.object({ itemId: z.uuid(), barcode }).strict())
      .max(500)
      .default([])
      .describe('items to replace, each by the specimen with this barcode'),
  })
  .strict()
  .refine((e) => e.add.length + e.remove.length + e.swap.length > 0, {
    path: ['add'],
    message: 'name at least one item to add, remove or swap',
  });
export type EditSharingProposalInput = z.infer<typeof editSharingProposalInput>;

export const approveSharingRequestInput = z
  .object({
    reservedUntil: instant
      .optional()
      .describe('reservations not shipped by then go back to stock (default: 30 days from now, at most 365)'),
  })
  .strict();
export type ApproveSharingRequestInput = z.infer<typeof approveSharingRequestInput>;

export const rejectSharingRequestInput = z.object({ reason: z.string().trim().min(1).max(2000) }).strict();
export const cancelSharingRequestInput = z
  .object({ reason: z.string().trim().min(1).max(2000).optional() })
  .strict();

export const sharingRequestDto = z.object({
  id: z.uuid(),
  requesterInstitutionId: z.uuid(),
  providerInstitutionId: z.uuid(),
  agreementId: z.uuid(),
  use: z.enum(USES),
  ethicsApprovalRef: z.string(),
  criteria: z.record(z.string(), z.unknown()),
  specimenCount: z.number().int(),
  quantityPerSpecimen: z.number(),
  unit: z.enum(SPECIMEN_UNITS),
  onePerDonor: z.boolean(),
  purpose: z.string(),
  state: z.enum(REQUEST_STATES),
  reason: z.string().nullable(),
  side: z.enum(REQUEST_SIDES).describe('where the caller’s institution stands in this request'),
  allowedActions: z.array(z.enum(REQUEST_ACTIONS)).describe('what the caller’s side may do next'),
  submittedAt: z.string().nullable(),
  proposedAt: z.string().nullable(),
  reviewStartedAt: z.string().nullable(),
  reviewRemindedAt: z.string().nullable(),
  reviewEscalatedAt: z.string().nullable(),
  reservationDeadline: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});

export const sharingItemDto = z.object({
  id: z.uuid(),
  sampleCode: z.string().describe('the item’s code within the request'),
  donorCode: z
    .string()
    .describe('groups the tubes of one donor within the request; says nothing of the donor'),
  state: z.enum(ITEM_STATES),
  type: z.enum(SPECIMEN_TYPES),
  sprecCode: z.string().nullable(),
  specimen: z
    .object({ id: z.uuid(), barcode: z.string() })
    .nullable()
    .describe("the provider's specimen: shown to the provider only"),
});

export const sharingEventDto = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string(),
  actorInstitutionId: z.uuid().nullable(),
  action: z.string(),
  fromState: z.enum(REQUEST_STATES).nullable(),
  toState: z.enum(REQUEST_STATES),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
