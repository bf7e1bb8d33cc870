// The CapabilityStatement (GET /fhir/R4/metadata): exactly what this interface does, no more.
import { MAX_COUNT, DEFAULT_COUNT } from './fhir.search.js';
import { BASE, EXTENSION, FHIR_VERSION, ID_SYSTEM, TYPE_SYSTEMS } from './fhir.vocabulary.js';

/** When this statement last changed (CapabilityStatement.date). */
const STATEMENT_DATE = '2026-12-04';

const SPECIMEN_DOCUMENTATION =
  'Specimens of the API key’s institution only (another institution’s answer 404). ' +
  `Identifiers: our id as ${ID_SYSTEM.uri}|urn:uuid:<id>, the tube barcode as ${ID_SYSTEM.barcode}, ` +
  `external (LIS) ids with their own URI system, or ${ID_SYSTEM.external}<token> for a plain token system; ` +
  'the first external id is the accessionIdentifier. The donor is Patient/<participant id> (pseudonymous). ' +
  `SPREC travels in ${EXTENSION.sprec} on Specimen.processing, the storage location in Specimen.container. ` +
  'PUT creates (conditional update only) or updates, by the same rules as the REST upsert by external id: ' +
  'an element left out keeps its value, external ids are added and never removed, id, type, barcode, ' +
  'subject, parent and the collected quantity are fixed at registration (422 IMMUTABLE_FIELD), a stale ' +
  'If-Match is 412 VERSION_CONFLICT unless the specimen already is as sent, and a resource that changes ' +
  'nothing writes nothing. ' +
  'status, container, condition and note are kept by the biobank and ignored on input. ' +
  `Search pages hold _count results (default ${DEFAULT_COUNT}, at most ${MAX_COUNT}) in id order, or in ` +
  'order of last update when _lastUpdated is given; follow the next link. The number of matches over ' +
  'every page (Bundle.total) is counted only when asked for: with the page by _total=accurate (or ' +
  'estimate, answered exactly; read in the page’s snapshot, and left out of the next link), alone by ' +
  '_summary=count or _count=0. _summary=false is the default; other _summary values are refused.';

/** The CapabilityStatement of the server at `base` (its absolute FHIR base URL). */
export function capabilityStatement(base: string) {
  return {
    resourceType: 'CapabilityStatement' as const,
    url: `${BASE}/CapabilityStatement/biobank`,
    name: 'BiobankFhirR4',
    title: 'biobank HL7 FHIR R4 Specimen interface',
    status: 'active' as const,
    date: STATEMENT_DATE,
    publisher: 'biobank',
    kind: 'instance' as const,
    software: { name: 'biobank' },
    implementation: { description: 'biobank specimen tracking, FHIR R4 Specimen interface', url: base },
    fhirVersion: FHIR_VERSION,
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server' as const,
        documentation:
          'Errors are OperationOutcome resources whose issue details carry the stable error code ' +
          'of the REST API. Only JSON is served.',
        security: {
          cors: false,
          description:
            'Authorization: Bearer bbk_... with the API keys and roles of the REST API (read: specimens.read; ' +
            'create: specimens.register; update: specimens.update). This statement is public.',
        },
        resource: [
          {
            type: 'Specimen',
            profile: 'http://hl7.org/fhir/StructureDefinition/Specimen',
            documentation: SPECIMEN_DOCUMENTATION,
            interaction: [
              { code: 'read' as const },
              { code: 'vread' as const, documentation: 'the current version only; older ones are not kept' },
              { code: 'update' as const },
              { code: 'search-type' as const },
            ],
            versioning: 'versioned-update' as const,
            readHistory: false,
            updateCreate: false,
            conditionalCreate: false,
            conditionalRead: 'not-supported' as const,
            conditionalUpdate: true,
            conditionalDelete: 'not-supported' as const,
            searchParam: [
              {
                name: 'identifier',
                definition: 'http://hl7.org/fhir/SearchParameter/Specimen-identifier',
                type: 'token' as const,
                documentation: 'system|value (the system is required); a comma separates alternatives',
              },
              {
                name: 'type',
                definition: 'http://hl7.org/fhir/SearchParameter/Specimen-type',
                type: 'token' as const,
                documentation: `code or system|code from ${TYPE_SYSTEMS.join(', ')}; a comma separates alternatives`,
              },
              {
                name: '_lastUpdated',
                definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
                type: 'date' as const,
                documentation:
                  'prefixes eq (default), ge, gt, le, lt; repeat for a range; a date without time zone is UTC',
              },
            ],
          },
        ],
      },
    ],
  };
}
