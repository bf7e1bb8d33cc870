// The element names of an R4 Specimen and of the data types inside the parts we read, so a
// misspelt element (`collectedDatetime`, `collecton`, `bodySite.txt`) is a 400 naming it, as a
// misspelt member of a REST body is, instead of an update that silently stores nothing. Elements R4
// defines but we do not store (`container`, `note`, `meta`, ...) stay accepted and are documented
// as ignored. A primitive's extension sibling (`_receivedTime`) follows its element. Pure.
import type { FieldProblem } from '../../errors.js';

const BASE = ['id', 'extension', 'modifierExtension'];
const CODEABLE_CONCEPT = [...BASE, 'coding', 'text'];
const CODING = [...BASE, 'system', 'version', 'code', 'display', 'userSelected'];
const QUANTITY = [...BASE, 'value', 'comparator', 'unit', 'system', 'code'];
const IDENTIFIER = [...BASE, 'use', 'type', 'system', 'value', 'period', 'assigner'];
const REFERENCE = [...BASE, 'reference', 'type', 'identifier', 'display'];

/** Elements of each part, by FHIRPath; a part not listed here is not looked into. */
const ELEMENTS: Record<string, readonly string[]> = {
  Specimen: [
    ...BASE,
    'resourceType',
    'meta',
    'implicitRules',
    'language',
    'text',
    'contained',
    'identifier',
    'accessionIdentifier',
    'status',
    'type',
    'subject',
    'receivedTime',
    'parent',
    'request',
    'collection',
    'processing',
    'container',
    'condition',
    'note',
  ],
  'Specimen.identifier': IDENTIFIER,
  'Specimen.accessionIdentifier': IDENTIFIER,
  'Specimen.type': CODEABLE_CONCEPT,
  'Specimen.type.coding': CODING,
  'Specimen.subject': REFERENCE,
  'Specimen.parent': REFERENCE,
  'Specimen.collection': [
    ...BASE,
    'collector',
    'collectedDateTime',
    'collectedPeriod',
    'duration',
    'quantity',
    'method',
    'bodySite',
    'fastingStatusCodeableConcept',
    'fastingStatusDuration',
  ],
  'Specimen.collection.quantity': QUANTITY,
  'Specimen.collection.bodySite': CODEABLE_CONCEPT,
  'Specimen.collection.bodySite.coding': CODING,
  'Specimen.processing': [...BASE, 'description', 'procedure', 'additive', 'timeDateTime', 'timePeriod'],
  'Specimen.processing.procedure': CODEABLE_CONCEPT,
  'Specimen.processing.procedure.coding': CODING,
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every element name the resource uses that R4 does not define where it stands, and every
 * modifier extension: one changes the meaning of its element, none is understood here, so R4
 * forbids processing the resource as if it were absent.
 */
export function unknownSpecimenElements(resource: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const walk = (value: unknown, path: string, at: string) => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, path, `${at}[${i}]`));
    const known = ELEMENTS[path];
    if (!known || !isObject(value)) return;
    for (const [name, child] of Object.entries(value)) {
      const element = name.startsWith('_') ? name.slice(1) : name;
      if (!known.includes(element))
        problems.push({ field: `${at}.${name}`, message: `is not an element of R4 ${path}` });
      else if (name === 'modifierExtension' && Array.isArray(child) && child.length > 0)
        problems.push({
          field: `${at}.${name}`,
          message: 'a modifier extension changes what the element means, and none is understood here',
        });
      else if (!name.startsWith('_')) walk(child, `${path}.${name}`, `${at}.${name}`);
    }
  };
  walk(resource, 'Specimen', 'Specimen');
  return problems;
}
