// The fhir module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

/**
 * A FHIR Specimen sent to update a specimen states another value for an element fixed when the
 * tube was registered (its type, barcode, donor, first quantity, parent). `element` is the
 * FHIRPath, `sent` and `current` are written as FHIR would.
 */
export const elementFixed = (element: string, sent: string, current: string) =>
  new DomainError(
    'ELEMENT_FIXED',
    `${element} is ${current} and cannot change after registration (sent ${sent})`,
    [{ field: element, message: 'fixed at registration' }],
    { element },
  );
