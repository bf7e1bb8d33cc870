import { calendarDate, instant } from '../../clock.js';
import { z } from 'zod';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { CONSENT_RESPONSES, WITHDRAWAL_SCOPES } from './consent.table.js';

// Consent inputs REST and GraphQL both validate with.

/** A signed consent document and the donor's answer per tier. */
export const recordConsentInput = z.object({
  participantId: z.uuid(),
  documentVersion: z.string().trim().min(1).max(40),
  signedOn: calendarDate.describe('date the donor signed (YYYY-MM-DD)'),
  obtainedBy: z.string().trim().min(1).max(120).describe('who obtained the consent (staff id or name)'),
  responses: z
    .partialRecord(z.enum(CONSENT_TIERS), z.enum(CONSENT_RESPONSES))
    .describe('a response per tier the protocol asks'),
  expiresOn: calendarDate.optional(),
});
export type RecordConsentInput = z.infer<typeof recordConsentInput>;

/** What the donor withdrew and why. */
export const withdrawConsentInput = z.object({
  scope: z.enum(WITHDRAWAL_SCOPES),
  reason: z.string().trim().max(500).optional(),
});
export type WithdrawConsentInput = z.infer<typeof withdrawConsentInput>;

/** A participant's consent history. */
export const listConsentsQuery = z.object({ participantId: z.uuid() });

/** The tubes scanned to confirm their destruction. */
export const confirmDestructionInput = z.object({
  barcodes: z.array(z.string().trim().min(1).max(64)).min(1).max(500),
  occurredAt: instant.optional(),
});
export type ConfirmDestructionInput = z.infer<typeof confirmDestructionInput>;
