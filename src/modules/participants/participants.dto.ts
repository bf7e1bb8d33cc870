// DTO mapping for protocols and participants: used by REST routes and GraphQL resolvers alike.
import type { z } from 'zod';
import type { ProtocolRow } from './participants.repo.js';
import type { participantDto, protocolDto } from './participants.schemas.js';
import type { ParticipantView } from './participants.service.js';

export const toProtocolDto = (p: ProtocolRow): z.infer<typeof protocolDto> => ({
  id: p.id,
  code: p.code,
  title: p.title,
  ethicsApprovalRef: p.ethicsApprovalRef,
  consentTiers: p.consentTiers as z.infer<typeof protocolDto>['consentTiers'],
  diseaseArea: p.diseaseArea,
  createdAt: p.createdAt.toISOString(),
  version: p.version,
});

export const toParticipantDto = (p: ParticipantView): z.infer<typeof participantDto> => ({
  ...p,
  createdAt: p.createdAt.toISOString(),
});
