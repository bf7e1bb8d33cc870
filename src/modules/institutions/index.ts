export {
  createInstitutionService,
  toInstitutionDto,
  type InstitutionService,
} from './institutions.service.js';
export {
  findInstitutionById,
  findInstitutionByCode,
  findInstitutionsByIds,
  type InstitutionRow,
} from './institutions.repo.js';
export { institutions, INSTITUTION_KINDS } from './institutions.table.js';
export * from './institutions.schemas.js';
