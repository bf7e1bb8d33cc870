// Consent rows as the API shows them: one mapping for REST routes, GraphQL resolvers and loaders.
import { z } from 'zod';
import { specimenDto, toSpecimenDto } from '../specimens/index.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import type { DestructionListItem } from './consent.destruction.js';
import type { CascadeRow, ConsentRow } from './consent.repo.js';
import { CONSENT_RESPONSES, CONSENT_STATUSES, WITHDRAWAL_SCOPES } from './consent.table.js';

export const consentDto = z.object({
  id: z.uuid(),
  participantId: z.uuid(),
  protocolId: z.uuid(),
  documentVersion: z.string(),
  signedOn: z.string(),
  obtainedBy: z.string(),
  responses: z.partialRecord(z.enum(CONSENT_TIERS), z.enum(CONSENT_RESPONSES)),
  status: z.enum(CONSENT_STATUSES).describe('expired once expiresOn has passed'),
  expiresOn: z.string().nullable(),
  withdrawnAt: z.string().nullable(),
  withdrawalScope: z.enum(WITHDRAWAL_SCOPES).nullable(),
  supersedesId: z.uuid().nullable(),
  supersededAt: z.string().nullable().describe('set when a newer version replaced this one'),
  createdAt: z.string(),
  version: z.number().int(),
});

export const toConsentDto = (c: ConsentRow): z.infer<typeof consentDto> => ({
  id: c.id,
  participantId: c.participantId,
  protocolId: c.protocolId,
  documentVersion: c.documentVersion,
  signedOn: c.signedOn,
  obtainedBy: c.obtainedBy,
  responses: c.responses,
  status: c.status,
  expiresOn: c.expiresOn,
  withdrawnAt: c.withdrawnAt?.toISOString() ?? null,
  withdrawalScope: c.withdrawalScope,
  supersedesId: c.supersedesId,
  supersededAt: c.supersededAt?.toISOString() ?? null,
  createdAt: c.createdAt.toISOString(),
  version: c.version,
});

/** The consent DTO with its responses as `[{ tier, response }]`, in ConsentTier order (GraphQL). */
export function toConsentGql(row: ConsentRow) {
  const dto = toConsentDto(row);
  return {
    ...dto,
    responses: CONSENT_TIERS.flatMap((tier) => {
      const response = dto.responses[tier];
      return response ? [{ tier, response }] : [];
    }),
  };
}

export const cascadeDto = z.object({
  id: z.uuid(),
  consentId: z.uuid(),
  kind: z.enum(['withdraw', 'reconsent']),
  status: z.enum(['pending', 'running', 'completed']),
  specimensFound: z.number().int(),
  specimensChanged: z.number().int(),
  destructionListed: z.number().int(),
  partnersNotified: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});

export const toCascadeDto = (c: CascadeRow): z.infer<typeof cascadeDto> => ({
  id: c.id,
  consentId: c.consentId,
  kind: c.kind,
  status: c.status,
  specimensFound: c.specimensFound,
  specimensChanged: c.specimensChanged,
  destructionListed: c.destructionListed,
  partnersNotified: c.partnersNotified,
  createdAt: c.createdAt.toISOString(),
  startedAt: c.startedAt?.toISOString() ?? null,
  completedAt: c.completedAt?.toISOString() ?? null,
});

export const destructionItemDto = z.object({
  itemId: z.uuid(),
  consentId: z.uuid(),
  listedAt: z.string(),
  specimen: specimenDto,
});

export const toDestructionItemDto = (x: DestructionListItem): z.infer<typeof destructionItemDto> => ({
  itemId: x.item.id,
  consentId: x.item.consentId,
  listedAt: x.item.listedAt.toISOString(),
  specimen: toSpecimenDto(x),
});
