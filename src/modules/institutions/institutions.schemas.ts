import { z } from 'zod';
import { INSTITUTION_KINDS } from './institutions.table.js';

export const institutionCode = z
  .string()
  .regex(/^[A-Z0-9][A-Z0-9_-]{1,31}$/, 'uppercase letters, digits, _ or -, 2 to 32 characters');

export const createInstitutionInput = z.object({
  code: institutionCode,
  name: z.string().trim().min(1).max(200),
  kind: z.enum(INSTITUTION_KINDS),
});
export type CreateInstitutionInput = z.infer<typeof createInstitutionInput>;

export const webhookUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .describe('endpoint that receives signed Standard Webhooks POSTs');

export const updateInstitutionInput = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  webhookUrl: webhookUrl.nullable().optional(),
});
export type UpdateInstitutionInput = z.infer<typeof updateInstitutionInput>;

export const institutionDto = z.object({
  id: z.uuid(),
  code: z.string(),
  name: z.string(),
  kind: z.enum(INSTITUTION_KINDS),
  operator: z.boolean(),
  webhookUrl: z.string().nullable(),
  webhookConfigured: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  version: z.number().int(),
});
export type InstitutionDto = z.infer<typeof institutionDto>;
