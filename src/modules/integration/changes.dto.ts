// Changes as the API shows them: one mapping for the REST route and the GraphQL resolver.
import type { ChangeRecord } from './changes.repo.js';
import type { ChangeDto } from './changes.schemas.js';
import type { ChangeEntity } from './changes.table.js';

/**
 * The API field a column shows up as, where that is not the column's camelCase name; null for a
 * column the API does not show. A consumer reads the entity's own REST or GraphQL shape, so the
 * feed names what changed there (a tube's position columns change its `location`).
 */
const FIELD_OF_COLUMN: Record<ChangeEntity, Record<string, string | null>> = {
  specimen: {
    container_id: 'location',
    position_row: 'location',
    position_col: 'location',
    custody_seq: 'custody',
    custody_head: 'custody',
  },
  participant: {
    protocol_participant_id: 'identity.protocolParticipantId',
    birth_year: 'identity.birthYear',
    mrn_hash: 'identity.hasMrn',
    lis_patient_id_hash: 'identity.hasLisPatientId',
  },
  consent: { withdrawal_reason: null },
  container: {
    ancestor_ids: 'path',
    location_chain: 'path',
    location_chain_version: null,
    slot_row: 'slot',
    slot_col: 'slot',
    grid_rows: 'grid',
    grid_cols: 'grid',
    grid_scheme: 'grid',
    fill_order: 'grid',
  },
};

const camelCase = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

// Columns are few and repeat on every change: each entity's answers are kept (a drain maps
// thousands of changes a second).
const fieldNames = new Map<string, Map<string, string | null>>();
function fieldOf(entity: ChangeEntity, column: string): string | null {
  let known = fieldNames.get(entity);
  if (!known) fieldNames.set(entity, (known = new Map<string, string | null>()));
  let field = known.get(column);
  if (field === undefined) {
    const mapped = FIELD_OF_COLUMN[entity]?.[column];
    field = mapped === undefined ? camelCase(column) : mapped;
    known.set(column, field);
  }
  return field;
}

/** The API fields behind changed columns, each once, in alphabetical order. */
export function changedFields(entity: ChangeEntity, columns: readonly string[]): string[] {
  const fields: string[] = [];
  if (columns.length === 0) return fields;
  for (const column of columns) {
    const field = fieldOf(entity, column);
    if (field !== null && !fields.includes(field)) fields.push(field);
  }
  return fields.sort();
}

export const toChangeDto = (c: ChangeRecord): ChangeDto => ({
  entity: c.entity,
  entityId: c.entityId,
  version: c.version,
  operation: c.operation,
  changedFields: changedFields(c.entity, c.changedColumns),
  changedAt: c.changedAt.toISOString(),
  requestId: c.requestId,
});
