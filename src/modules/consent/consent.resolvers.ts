import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs } from '../../graphql/adapter.js';
import { validationFailed } from '../../errors.js';
import { toSpecimenDto } from '../specimens/index.js';
import { toCascadeDto, toConsentGql, toDestructionItemDto } from './consent.dto.js';
import {
  confirmDestructionInput,
  listConsentsQuery,
  recordConsentInput,
  withdrawConsentInput,
} from './consent.schemas.js';

// GraphQL adapter over the consent service (STYLE.md rules 2 and 16): the REST zod schemas
// validate the arguments, each field calls one service method, and a Consent is the REST DTO
// except that `responses` is a typed list instead of an object keyed by tier.

const idArgs = z.object({ id: z.uuid() });

/** `[{ tier, response }]` as the object keyed by tier the REST schema reads; a repeated tier is refused. */
function responsesByTier(list: unknown): unknown {
  if (!Array.isArray(list)) return list;
  const out: Record<string, unknown> = {};
  const repeated = list.flatMap((item: { tier: string; response: unknown }, i) => {
    if (Object.hasOwn(out, item.tier)) {
      return [{ field: `responses.${i}.tier`, message: `${item.tier} is given more than once` }];
    }
    out[item.tier] = item.response;
    return [];
  });
  if (repeated.length) throw validationFailed(repeated);
  return out;
}

export const consentResolvers: IResolvers = {
  Query: {
    async consent(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const row = await nullIfNotFound('CONSENT_NOT_FOUND', () => services.consent.getConsent(biobank, id));
      return row && toConsentGql(row);
    },
    async consents(_root, args: unknown, { biobank, services }) {
      const query = parseArgs(listConsentsQuery, args);
      return (await services.consent.listConsents(biobank, query)).map(toConsentGql);
    },
    async consentCascade(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const row = await nullIfNotFound('CASCADE_NOT_FOUND', () =>
        services.consent.getConsentCascade(biobank, id),
      );
      return row && toCascadeDto(row);
    },
    async destructionList(_root, _args, { biobank, services }) {
      return (await services.consent.listDestruction(biobank)).map(toDestructionItemDto);
    },
  },
  Mutation: {
    async recordConsent(_root, args: { input?: Record<string, unknown> | null }, { biobank, services }) {
      const raw = args.input ?? {};
      const input = parseArgs(recordConsentInput, { ...raw, responses: responsesByTier(raw.responses) });
      return toConsentGql(await services.consent.recordConsent(biobank, input));
    },
    async withdrawConsent(_root, args: { id: unknown; input: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      const input = parseArgs(withdrawConsentInput, args.input);
      const result = await services.consent.withdrawConsent(biobank, id, input);
      return { consent: toConsentGql(result.consent), cascade: toCascadeDto(result.cascade) };
    },
    async confirmDestruction(_root, args: unknown, { biobank, services }) {
      const input = parseArgs(confirmDestructionInput, args);
      return (await services.consent.confirmDestruction(biobank, input)).map(toSpecimenDto);
    },
  },
};
