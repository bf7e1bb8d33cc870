import { z } from 'zod';
import { pageQuery } from '../../pagination.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { DISEASE_AREAS } from '../../vocabulary/disease-areas.js';
import { SEXES } from './participants.table.js';

// Participant schemas REST and GraphQL both validate with (the protocol and participant inputs
// live in participants.service.ts).

/** A page of participants, of one protocol if given. */
export const listParticipantsQuery = pageQuery.extend({ protocolId: z.uuid().optional() });

export const protocolDto = z.object({
  id: z.uuid(),
  code: z.string(),
  title: z.string(),
  ethicsApprovalRef: z.string(),
  consentTiers: z.array(z.enum(CONSENT_TIERS)),
  diseaseArea: z.enum(DISEASE_AREAS),
  createdAt: z.string(),
  version: z.number().int(),
});
export const participantDto = z.object({
  id: z.uuid(),
  protocolId: z.uuid(),
  sex: z.enum(SEXES),
  diagnoses: z.array(z.string()),
  identity: z
    .object({
      protocolParticipantId: z.string(),
      birthYear: z.number().int().nullable(),
      hasMrn: z.boolean(),
      hasLisPatientId: z.boolean().describe('an LIS patient id is on file (only its keyed hash)'),
    })
    .nullable()
    .describe('identity fields: present for admins, managers and integrations only'),
  createdAt: z.string(),
  version: z.number().int(),
});
