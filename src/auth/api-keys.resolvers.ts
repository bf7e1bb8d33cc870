import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { unauthenticated } from '../errors.js';
import { createApiKeyInput } from './api-keys.service.js';

export const apiKeyResolvers: IResolvers = {
  Query: {
    viewer(_root, _args, { biobank }) {
      const a = biobank.actor;
      if (a.kind !== 'api_key') throw unauthenticated();
      return { apiKeyId: a.apiKeyId, role: a.role, institutionId: a.institutionId };
    },
    async apiKeys(_root, args: unknown, { biobank, services }) {
      const { institutionId } = z.object({ institutionId: z.uuid().nullish() }).parse(args);
      return services.apiKeys.listApiKeys(biobank, { institutionId: institutionId ?? undefined });
    },
  },
  Mutation: {
    async createApiKey(_root, args: { input: unknown }, { biobank, services }) {
      const input = createApiKeyInput.parse(
        Object.fromEntries(
          Object.entries(args.input as Record<string, unknown>).filter(([, v]) => v !== null),
        ),
      );
      return services.apiKeys.createApiKey(biobank, input);
    },
    async revokeApiKey(_root, args: unknown, { biobank, services }) {
      return services.apiKeys.revokeApiKey(biobank, z.object({ id: z.uuid() }).parse(args).id);
    },
  },
};
