import { containerSqlHas } from '../storage/index.js';
import { CUSTODY_EVENT_SQL_FIELDS } from './latest-custody.read-model.js';
import { SPECIMEN_SQL_FIELDS } from './specimen-json.js';

// What a page of specimens builds in SQL, from the fields a query selects (issue 16): only the
// selected fields of each specimen, and its container (with the container's parent) and latest
// custody event in the same row when every field asked of them is one SQL writes. Pure: the
// service adds what the actor may read; anything this does not know is built in full, as REST.

/** Field name -> the fields selected below it (empty for a leaf), fragments merged. */
export type FieldSelection = ReadonlyMap<string, FieldSelection>;

export interface SpecimenPageShape {
  /** the specimen DTO's fields to write ('all': every one) */
  fields: ReadonlySet<string> | 'all';
  /** each specimen's location (also what `container` reads when it is not in the row) */
  location: boolean;
  /** the container's fields, and its parent's (null: not asked), written in the row; null: not in the row */
  container: { fields: ReadonlySet<string>; parent: ReadonlySet<string> | null } | null;
  /** the latest custody event's fields written in the row; null: not in the row */
  latestCustodyEvent: ReadonlySet<string> | null;
}

/** Every field, as REST writes a specimen: for a selection this module cannot read. */
export const FULL_SPECIMEN_PAGE: SpecimenPageShape = {
  fields: 'all',
  location: true,
  container: null,
  latestCustodyEvent: null,
};

// Relations resolved elsewhere from the specimen's id alone (src/graphql/batch.ts loaders).
const BY_ID = new Set(['children', 'permittedUses', 'qcResults']);

const names = (s: FieldSelection) => new Set([...s.keys()].filter((n) => n !== '__typename'));
const has = Object.hasOwn;

/** The container and its parent in the row, if SQL writes every field selected of them. */
function containerInRow(s: FieldSelection): SpecimenPageShape['container'] {
  const fields = names(s);
  const parentSelection = s.get('parent');
  fields.delete('parent');
  if (!containerSqlHas(fields)) return null;
  if (!parentSelection) return { fields, parent: null };
  const parent = names(parentSelection);
  return containerSqlHas(parent) ? { fields, parent } : null;
}

/**
 * The shape of a page for the fields selected of each specimen; `container` and
 * `latestCustodyEvent` come in the row only where the actor may read them (`may`), otherwise
 * their loaders read (or refuse) them as before.
 */
export function specimenPageShape(
  selection: FieldSelection,
  may: { readStorage: boolean; readCustody: boolean },
): SpecimenPageShape {
  const fields = new Set(['id']);
  let location = false;
  let container: SpecimenPageShape['container'] = null;
  let latestCustodyEvent: SpecimenPageShape['latestCustodyEvent'] = null;
  for (const [name, sub] of selection) {
    if (name === '__typename' || BY_ID.has(name)) continue;
    if (has(SPECIMEN_SQL_FIELDS, name)) fields.add(name);
    else if (name === 'location') location = true;
    else if (name === 'parent') fields.add('parentId');
    else if (name === 'container') {
      container = may.readStorage ? containerInRow(sub) : null;
      // Its loader finds the container from the location.
      if (!container) location = true;
    } else if (name === 'latestCustodyEvent') {
      const event = names(sub);
      if (may.readCustody && [...event].every((f) => has(CUSTODY_EVENT_SQL_FIELDS, f)))
        latestCustodyEvent = event;
    } else return FULL_SPECIMEN_PAGE;
  }
  return { fields, location, container, latestCustodyEvent };
}
