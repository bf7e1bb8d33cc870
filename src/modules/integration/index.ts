// Public face of the integration module: the change feed (what changed, in commit order, for LIS
// integrations to follow). Its tables and triggers are its own; see migrations 0010 and 0011.
export { createChangeFeedService, type ChangeFeedService, type ChangePage } from './changes.service.js';
export { changeRoutes } from './changes.routes.js';
export { changeResolvers } from './changes.resolvers.js';
export { changeDto, changePageDto, listChangesQuery } from './changes.schemas.js';
export { toChangeDto } from './changes.dto.js';
export {
  CHANGE_ENTITIES,
  CHANGE_OPERATIONS,
  type ChangeEntity,
  type ChangeOperation,
} from './changes.table.js';
