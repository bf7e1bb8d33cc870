// Public face of the participants module: donors (pseudonymous) and collection protocols.
export {
  createParticipantService,
  type ParticipantService,
  type ParticipantView,
  upsertParticipantInput,
  type UpsertParticipantInput,
} from './participants.service.js';
export {
  findParticipantWithTiers,
  findParticipantsAndProtocols,
  findProtocol,
  findProtocolByCode,
  listProtocolRows,
  protocolTiers,
  type ParticipantRow,
  type ProtocolRow,
} from './participants.repo.js';
export { insertParticipants, countParticipants, type BulkParticipant } from './participants.bulk.js';
export { hospitalIdHashes, type HospitalIdHashes } from './participants.hashes.js';
export { SEXES } from './participants.table.js';
export { participantExists, participantNotFound, protocolNotFound } from './participants.errors.js';
export { toParticipantDto, toProtocolDto } from './participants.dto.js';
export { participantRoutes } from './participants.routes.js';
export { participantResolvers } from './participants.resolvers.js';
