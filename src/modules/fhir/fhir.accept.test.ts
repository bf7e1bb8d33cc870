import { describe, expect, it } from 'vitest';
import { acceptsFhirJson } from './fhir.accept.js';

describe('acceptsFhirJson', () => {
  it.each([
    undefined,
    '',
    'application/fhir+json',
    'application/fhir+json; fhirVersion=4.0',
    'application/json',
    'application/json+fhir',
    'APPLICATION/FHIR+JSON',
    '*/*',
    'application/*;q=0.1',
    'application/fhir+xml, application/fhir+json;q=0.5',
  ])('admits JSON for %j', (accept) => {
    expect(acceptsFhirJson(accept)).toBe(true);
  });

  it.each([
    'application/fhir+xml',
    'application/xml, text/xml',
    'text/turtle',
    'text/html',
    'application/fhir+json;q=0',
    'application/fhir+xml, */*;q=0',
  ])('refuses %j', (accept) => {
    expect(acceptsFhirJson(accept)).toBe(false);
  });
});
