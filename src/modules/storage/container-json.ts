import { isoSql, type SqlFieldMap } from '../../db/json-sql.js';

// A container's DTO fields as SQL over one container row, each as `toContainerDto` writes it (as a
// column the driver parses, or inside a JSON object), for read models that bring a specimen's
// container with the specimen in one statement (the GraphQL page, issue 16). `slot` and `path`
// need the parent's grid and the ancestors' names: they are not here, and a query that selects
// them reads the container through the storage service instead.

/** The container DTO's fields that SQL over one container row writes, over the table reference `c`. */
export const CONTAINER_SQL_FIELDS: SqlFieldMap = {
  id: (c) => `${c}.id`,
  kind: (c) => `${c}.kind`,
  barcode: (c) => `${c}.barcode`,
  name: (c) => `${c}.name`,
  parentId: (c) => `${c}.parent_id`,
  temperatureC: (c) => `${c}.temperature_c::float8`,
  grid: (c) =>
    `case when ${c}.grid_rows is null or ${c}.grid_cols is null or ${c}.grid_scheme is null then null
          else json_build_object('rows', ${c}.grid_rows, 'cols', ${c}.grid_cols,
                                 'scheme', ${c}.grid_scheme, 'fillOrder', ${c}.fill_order) end`,
  allowedTypes: (c) => `${c}.allowed_types`,
  createdAt: (c) => isoSql(`${c}.created_at`),
  updatedAt: (c) => isoSql(`${c}.updated_at`),
  version: (c) => `${c}.version`,
};

/** Whether every one of `fields` is a field SQL writes (`CONTAINER_SQL_FIELDS`). */
export const containerSqlHas = (fields: Iterable<string>): boolean => {
  for (const f of fields) if (!Object.hasOwn(CONTAINER_SQL_FIELDS, f)) return false;
  return true;
};
