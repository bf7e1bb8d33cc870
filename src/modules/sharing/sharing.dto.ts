// DTO mapping for the sharing module: used by REST routes and GraphQL resolvers alike.
import type { z } from 'zod';
import type { agreementDto } from './sharing.agreements.schemas.js';
import type { AgreementRow } from './sharing.table.js';

export const toAgreementDto = (a: AgreementRow): z.infer<typeof agreementDto> => ({
  id: a.id,
  providerInstitutionId: a.providerInstitutionId,
  requesterInstitutionId: a.requesterInstitutionId,
  uses: a.uses,
  mtaReference: a.mtaReference,
  validFrom: a.validFrom,
  validUntil: a.validUntil,
  reviewDeadlineDays: a.reviewDeadlineDays,
  createdAt: a.createdAt.toISOString(),
  updatedAt: a.updatedAt.toISOString(),
  version: a.version,
});
