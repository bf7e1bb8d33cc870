import { describe, expect, it } from 'vitest';
import { FULL_SPECIMEN_PAGE, specimenPageShape, type FieldSelection } from './specimen-page.shape.js';

/** A selection from nested field names: `{ id: {}, container: { parent: { id: {} } } }`. */
type Spec = { [field: string]: Spec };
const sel = (spec: Spec): FieldSelection => new Map(Object.entries(spec).map(([k, v]) => [k, sel(v)]));
const may = { readStorage: true, readCustody: true };

describe('specimen page shape', () => {
  it('builds only the selected fields, always the id, and the relations in the row', () => {
    const shape = specimenPageShape(
      sel({
        barcode: {},
        status: {},
        __typename: {},
        container: { id: {}, name: {}, parent: { id: {}, kind: {} } },
        latestCustodyEvent: { seq: {}, occurredAt: {} },
      }),
      may,
    );
    expect(shape).toEqual({
      fields: new Set(['id', 'barcode', 'status']),
      location: false,
      container: { fields: new Set(['id', 'name']), parent: new Set(['id', 'kind']) },
      latestCustodyEvent: new Set(['seq', 'occurredAt']),
    });
  });

  it('leaves a relation to its loader when a field of it is not written in SQL, or the actor may not read it', () => {
    // `path` needs the ancestors; the loader finds the container from the location.
    expect(specimenPageShape(sel({ container: { path: {} } }), may)).toMatchObject({
      location: true,
      container: null,
    });
    expect(
      specimenPageShape(sel({ container: { parent: { parent: { id: {} } } } }), may).container,
    ).toBeNull();
    const refused = specimenPageShape(sel({ container: { id: {} }, latestCustodyEvent: { seq: {} } }), {
      readStorage: false,
      readCustody: false,
    });
    expect(refused).toMatchObject({ location: true, container: null, latestCustodyEvent: null });
    expect(
      specimenPageShape(sel({ latestCustodyEvent: { somethingNew: {} } }), may).latestCustodyEvent,
    ).toBeNull();
  });

  it('reads what the relations resolved elsewhere need: the parent id, the location', () => {
    const shape = specimenPageShape(
      sel({ parent: { id: {} }, children: { id: {} }, location: { path: {} } }),
      may,
    );
    expect(shape.fields).toEqual(new Set(['id', 'parentId']));
    expect(shape.location).toBe(true);
  });

  it('builds every field, as REST does, for a field it does not know', () => {
    expect(specimenPageShape(sel({ id: {}, someNewRelation: { id: {} } }), may)).toBe(FULL_SPECIMEN_PAGE);
  });
});
