import type { IResolvers, MercuriusContext, MercuriusLoaders } from 'mercurius';
import { z } from 'zod';
import { isDomainError } from '../../errors.js';
import type { InstitutionRow } from './institutions.repo.js';
import { createInstitutionInput, institutionCode } from './institutions.schemas.js';

const idArg = z.object({ id: z.uuid() });

export const institutionResolvers: IResolvers = {
  Query: {
    async institution(_root, args: unknown, { biobank, services }) {
      const { id } = idArg.parse(args);
      try {
        return await services.institutions.getInstitution(biobank, id);
      } catch (err) {
        if (isDomainError(err) && err.code === 'INSTITUTION_NOT_FOUND') return null;
        throw err;
      }
    },
    async institutions(_root, args: { after?: string | null; first?: number | null }, { biobank, services }) {
      const { after, first } = z
        .object({ after: institutionCode.nullish(), first: z.number().int().min(1).max(500).nullish() })
        .parse(args);
      return services.institutions.listInstitutions(biobank, {
        afterCode: after ?? undefined,
        limit: first ?? 100,
      });
    },
  },
  Mutation: {
    async createInstitution(_root, args: { input: unknown }, { biobank, services }) {
      return services.institutions.createInstitution(biobank, createInstitutionInput.parse(args.input));
    },
  },
  Institution: {
    // Derived, as in the REST DTO: the secret itself never leaves the service.
    webhookConfigured: (row: InstitutionRow) => Boolean(row.webhookUrl && row.webhookSecret),
  },
};

/** Institutions referenced by other objects, loaded in one service call per request tick. */
async function referenced(
  queries: { obj: { institutionId: string } }[],
  { biobank, services }: MercuriusContext,
) {
  const rows = await services.institutions.getInstitutionsByIds(
    biobank,
    queries.map((q) => q.obj.institutionId),
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return queries.map((q) => byId.get(q.obj.institutionId) ?? null);
}

export const institutionLoaders: MercuriusLoaders = {
  ApiKey: { institution: referenced },
  Viewer: { institution: referenced },
};
