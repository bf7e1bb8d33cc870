// DTO mapping for institutions: used by REST routes and GraphQL resolvers alike.
import type { InstitutionRow } from './institutions.repo.js';
import type { InstitutionDto } from './institutions.schemas.js';

export function toInstitutionDto(row: InstitutionRow): InstitutionDto {
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    kind: row.kind,
    operator: row.operator,
    webhookUrl: row.webhookUrl,
    webhookConfigured: Boolean(row.webhookUrl && row.webhookSecret),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    version: row.version,
  };
}
