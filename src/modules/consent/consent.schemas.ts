import { z } from 'zod';

// Consent schemas REST and GraphQL both validate with (the record and withdraw inputs live in
// consent.service.ts).

/** A participant's consent history. */
export const listConsentsQuery = z.object({ participantId: z.uuid() });

/** The tubes scanned to confirm their destruction. */
export const confirmDestructionInput = z.object({
  barcodes: z.array(z.string().trim().min(1).max(64)).min(1).max(500),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
});
