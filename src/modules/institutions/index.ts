export { createInstitutionService, type InstitutionService } from './institutions.service.js';
export {
  findInstitutionById,
  findInstitutionByCode,
  findInstitutionsByIds,
  type InstitutionRow,
} from './institutions.repo.js';
export { INSTITUTION_KINDS } from './institutions.table.js';
export { institutionNotFound } from './institutions.errors.js';
export { toInstitutionDto } from './institutions.dto.js';
export { institutionRoutes } from './institutions.routes.js';
export { institutionResolvers, institutionLoaders } from './institutions.resolvers.js';
export * from './institutions.schemas.js';
