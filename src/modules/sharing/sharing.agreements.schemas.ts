import { z } from 'zod';
import { pageQuery } from '../../pagination.js';
import { USES } from '../../vocabulary/uses.js';

// Agreement schemas REST and GraphQL both validate with.

const uses = z
  .array(z.enum(USES))
  .min(1)
  .max(USES.length)
  .transform((list) => USES.filter((u) => list.includes(u)))
  .describe('the consent uses requests under this agreement may ask for');

const agreementFields = {
  uses,
  mtaReference: z.string().trim().min(1).max(120).describe('the material transfer agreement this rests on'),
  validFrom: z.iso.date().describe('first day in force (UTC)'),
  validUntil: z.iso.date().describe('last day in force (UTC), inclusive'),
  reviewDeadlineDays: z
    .number()
    .int()
    .min(1)
    .max(365)
    .describe('days the provider gives itself to review a submitted request before reminders start'),
};

export const createAgreementInput = z
  .object({
    requesterInstitutionId: z.uuid().describe('the institution allowed to request from the caller’s'),
    ...agreementFields,
    validUntil: agreementFields.validUntil.optional(),
    reviewDeadlineDays: agreementFields.reviewDeadlineDays.default(14),
  })
  .strict()
  .refine((a) => a.validUntil === undefined || a.validUntil >= a.validFrom, {
    path: ['validUntil'],
    message: 'before validFrom',
  });
export type CreateAgreementInput = z.infer<typeof createAgreementInput>;

/** Only the fields given change; `validUntil: null` makes the agreement open-ended. */
export const updateAgreementInput = z
  .object({ ...agreementFields, validUntil: agreementFields.validUntil.nullable() })
  .partial()
  .strict();
export type UpdateAgreementInput = z.infer<typeof updateAgreementInput>;

export const AGREEMENT_SIDES = ['provider', 'requester'] as const;

export const listAgreementsQuery = pageQuery.extend({
  side: z.enum(AGREEMENT_SIDES).optional().describe('only those where the caller’s institution is this side'),
});
export type ListAgreementsQuery = z.infer<typeof listAgreementsQuery>;

export const agreementDto = z.object({
  id: z.uuid(),
  providerInstitutionId: z.uuid(),
  requesterInstitutionId: z.uuid(),
  uses: z.array(z.enum(USES)),
  mtaReference: z.string(),
  validFrom: z.string(),
  validUntil: z.string().nullable(),
  reviewDeadlineDays: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});
