// Content negotiation under /fhir (FHIR R4 http.html, "Content Types and encodings"): the service
// answers JSON only, so a client whose Accept header admits no JSON gets 406 instead of a body it
// cannot read. Pure.
import { notAcceptable } from '../../errors.js';

/** Media ranges JSON answers satisfy (`application/json+fhir` is the DSTU2 name some clients send). */
const JSON_RANGES = new Set([
  'application/fhir+json',
  'application/json',
  'application/json+fhir',
  'application/*',
  '*/*',
]);

/** Whether an Accept header admits JSON: absent or empty does; a range with `q=0` refuses. */
export function acceptsFhirJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (!JSON_RANGES.has(type)) return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Throws NOT_ACCEPTABLE when the request's Accept header admits no JSON. */
export function assertAcceptsFhirJson(accept: string | undefined): void {
  if (!acceptsFhirJson(accept)) throw notAcceptable('application/fhir+json only');
}
