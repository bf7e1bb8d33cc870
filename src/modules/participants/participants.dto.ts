// DTO mapping for protocols and participants: used by REST routes and GraphQL resolvers alike, and
// the participant view the services answer.
import type { z } from 'zod';
import type { Ctx } from '../../context.js';
import { can } from '../../auth/roles.js';
import type { ParticipantRow, ProtocolRow } from './participants.repo.js';
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

/** A participant as the actor may see it: identity fields only for `participants.identity`. */
export const toParticipantView = (ctx: Ctx, p: ParticipantRow): ParticipantView => ({
  id: p.id,
  protocolId: p.protocolId,
  sex: p.sex,
  diagnoses: p.diagnoses,
  identity: can(ctx.actor, 'participants.identity')
    ? {
        protocolParticipantId: p.protocolParticipantId,
        birthYear: p.birthYear,
        hasMrn: p.mrnHash !== null,
        hasLisPatientId: p.lisPatientIdHash !== null,
      }
    : null,
  createdAt: p.createdAt,
  version: p.version,
});
