// DTO mapping for the catalogue: used by the REST route and the GraphQL resolver alike.
import type { CatalogueDto } from './sharing.catalogue.schemas.js';
import type { CatalogueView } from './sharing.catalogue.js';

export const toCatalogueDto = (v: CatalogueView): CatalogueDto => ({
  use: v.use,
  asOf: v.asOf.toISOString(),
  providers: v.providers,
  criteria: v.criteria,
  groupBy: v.groupBy,
  shareable: v.shareable,
  fit: v.fit,
  excludedBy: v.excludedBy,
  groups: v.groups,
});
