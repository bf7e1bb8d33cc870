import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs, toConnection } from '../../graphql/adapter.js';
import { toParticipantDto, toProtocolDto } from './participants.dto.js';
import { listParticipantsQuery } from './participants.schemas.js';
import {
  createProtocolInput,
  protocolCode,
  registerParticipantInput,
  updateParticipantInput,
  upsertParticipantInput,
  upsertProtocolInput,
  updateProtocolInput,
} from './participants.service.js';

// GraphQL adapter over the participant service: REST schemas in, one service call, the REST DTO
// out (identity fields only for the roles the service shows them to).

const idArgs = z.object({ id: z.uuid() });
const expectedVersion = z.number().int().min(0).optional();

export const participantResolvers: IResolvers = {
  Query: {
    async protocols(_root, _args, { biobank, services }) {
      return (await services.participants.listProtocols(biobank)).map(toProtocolDto);
    },
    async protocol(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const row = await nullIfNotFound('PROTOCOL_NOT_FOUND', () =>
        services.participants.getProtocol(biobank, id),
      );
      return row && toProtocolDto(row);
    },
    async participants(
      _root,
      args: { protocolId?: unknown; first?: unknown; after?: unknown },
      { biobank, services },
    ) {
      const query = parseArgs(listParticipantsQuery, {
        protocolId: args.protocolId,
        cursor: args.after,
        limit: args.first,
      });
      return toConnection(await services.participants.listParticipants(biobank, query), toParticipantDto);
    },
    async participant(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const view = await nullIfNotFound('PARTICIPANT_NOT_FOUND', () =>
        services.participants.getParticipant(biobank, id),
      );
      return view && toParticipantDto(view);
    },
  },
  Mutation: {
    async createProtocol(_root, args: { input: unknown }, { biobank, services }) {
      const input = parseArgs(createProtocolInput, args.input);
      return toProtocolDto(await services.participants.createProtocol(biobank, input));
    },
    async updateProtocol(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = z
        .object({ id: z.uuid(), expectedVersion: z.number().int().min(0) })
        .parse({ id: args.id, expectedVersion: args.expectedVersion });
      const patch = parseArgs(updateProtocolInput, args.input);
      return toProtocolDto(
        await services.participants.updateProtocol(biobank, { id, expectedVersion, patch }),
      );
    },
    async registerParticipant(_root, args: { input: unknown }, { biobank, services }) {
      const input = parseArgs(registerParticipantInput, args.input);
      return toParticipantDto(await services.participants.registerParticipant(biobank, input));
    },
    async updateParticipant(
      _root,
      args: { id: unknown; expectedVersion: unknown; input: unknown },
      { biobank, services },
    ) {
      const { id, expectedVersion } = z
        .object({ id: z.uuid(), expectedVersion: z.number().int().min(0) })
        .parse({ id: args.id, expectedVersion: args.expectedVersion });
      const patch = parseArgs(updateParticipantInput, args.input);
      return toParticipantDto(
        await services.participants.updateParticipant(biobank, { id, expectedVersion, patch }),
      );
    },
    async upsertProtocol(
      _root,
      args: { code: unknown; input: unknown; expectedVersion?: unknown },
      { biobank, services },
    ) {
      const key = parseArgs(z.object({ code: protocolCode, expectedVersion }), {
        code: args.code,
        expectedVersion: args.expectedVersion,
      });
      const body = parseArgs(upsertProtocolInput, args.input);
      const u = await services.participants.upsertProtocol(biobank, { ...key, body });
      return { created: u.created, protocol: toProtocolDto(u.protocol) };
    },
    async upsertParticipant(
      _root,
      args: { protocolCode: unknown; input: unknown; expectedVersion?: unknown },
      { biobank, services },
    ) {
      const key = parseArgs(z.object({ protocolCode, expectedVersion }), {
        protocolCode: args.protocolCode,
        expectedVersion: args.expectedVersion,
      });
      const body = parseArgs(upsertParticipantInput, args.input);
      const u = await services.participants.upsertParticipant(biobank, { ...key, body });
      return { created: u.created, participant: toParticipantDto(u.participant) };
    },
  },
};
