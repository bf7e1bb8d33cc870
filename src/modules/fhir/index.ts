// Public face of the fhir module: the HL7 FHIR R4 Specimen interface (an adapter over the specimen
// services; it owns no table). See README "HL7 FHIR R4".
export { createFhirService, type FhirService } from './fhir.service.js';
export {
  fhirRoutes,
  fhirFrameworkErrors,
  fhirRefusalFormat,
  FHIR_MOUNT,
  FHIR_PREFIX,
} from './fhir.routes.js';
export { specimenFromFhir, type SpecimenFromFhir } from './fhir-specimen.input.js';
export { toFhirSpecimen, type FhirSpecimen } from './fhir.dto.js';
