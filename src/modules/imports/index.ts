// Public face of the imports module: bulk import of specimens, participants and consents from CSV
// or NDJSON files, validated in full, then applied by one job through the services a call uses.
export { createImportService, type ImportService, type ImportServiceDeps } from './imports.service.js';
export { importRoutes } from './imports.routes.js';
export { importResolvers } from './imports.resolvers.js';
export { importJobs } from './imports.handlers.js';
export { IMPORT_USAGE, importCommand } from './imports.cli.js';
export {
  IMPORT_KINDS,
  IMPORT_MODES,
  IMPORT_STATUSES,
  type ImportKind,
  type ImportMode,
} from './imports.table.js';
