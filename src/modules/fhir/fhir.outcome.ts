// Errors under /fhir are OperationOutcome resources (FHIR R4 http.html, "Error handling"), from the
// same DomainError and catalogue code REST answers as problem+json. Pure.
import { INTERNAL_ERROR_CODE, type DomainError, type ErrorKind } from '../../errors.js';
import { fhirPathOf } from './fhir-specimen.input.js';
import { CODE_SYSTEM } from './fhir.vocabulary.js';

/** The FHIR issue type (valueset issue-type) of each kind of refusal. */
const ISSUE_TYPE: Record<ErrorKind, string> = {
  bad_request: 'invalid',
  unauthenticated: 'login',
  forbidden: 'forbidden',
  not_found: 'not-found',
  conflict: 'conflict',
  precondition_failed: 'conflict',
  precondition_required: 'required',
  payload_too_large: 'too-long',
  unsupported_media_type: 'not-supported',
  not_acceptable: 'not-supported',
  method_not_allowed: 'not-supported',
  unprocessable: 'business-rule',
  too_many_requests: 'throttled',
  request_timeout: 'timeout',
  uri_too_long: 'too-long',
  headers_too_large: 'too-long',
  unavailable: 'transient',
};
/** Codes a finer issue type fits. */
const ISSUE_TYPE_OF_CODE: Record<string, string> = {
  BARCODE_TAKEN: 'duplicate',
  EXTERNAL_ID_TAKEN: 'duplicate',
  ROUTE_NOT_FOUND: 'not-supported',
  INVALID_CURSOR: 'value',
  IMMUTABLE_FIELD: 'business-rule',
};

/**
 * Statuses FHIR gives otherwise than REST, for the same code. FHIR R4 (http.html, update) keeps
 * 409 and 412 for version conflicts and answers a resource that breaks a business rule with 422,
 * so an element fixed at registration stated differently is 422 there, 409 in REST.
 */
const FHIR_STATUS_OF_CODE: Record<string, number> = { IMMUTABLE_FIELD: 422 };

/** The HTTP status of a refusal under /fhir. */
export const fhirStatusOf = (err: DomainError): number => FHIR_STATUS_OF_CODE[err.code] ?? err.status;

interface Issue {
  severity: 'error' | 'fatal';
  code: string;
  details: { coding: { system: string; code: string }[]; text: string };
  diagnostics?: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Issue[];
}

/** A FHIRPath-ish expression for a field the error names (register-body fields are translated). */
const expressionOf = (field: string) => (field.startsWith('Specimen') ? field : fhirPathOf(field));

/**
 * A refusal as an OperationOutcome: one issue per field problem (its element in `expression`), or
 * one for the whole request; each carries the stable code in `details.coding` and the request id.
 */
export function toOperationOutcome(err: DomainError, requestId: string): OperationOutcome {
  const code = ISSUE_TYPE_OF_CODE[err.code] ?? ISSUE_TYPE[err.kind];
  const details = { coding: [{ system: CODE_SYSTEM.errorCode, code: err.code }], text: err.message };
  const issues: Issue[] = err.errors.length
    ? err.errors.map((f) => ({
        severity: 'error',
        code:
          err.kind === 'bad_request' && f.code === 'invalid_type' && /undefined/.test(f.message)
            ? 'required'
            : code,
        details,
        diagnostics: `${f.message} (request ${requestId})`,
        ...(f.field ? { expression: [expressionOf(f.field)] } : {}),
      }))
    : [{ severity: 'error', code, details, diagnostics: `request ${requestId}` }];
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** A bug: the request id is all it says; the details are in the log. */
export const internalOutcome = (requestId: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [
    {
      severity: 'fatal',
      code: 'exception',
      details: {
        coding: [{ system: CODE_SYSTEM.errorCode, code: INTERNAL_ERROR_CODE }],
        text: 'the service failed to answer; the request id identifies the failure in the logs',
      },
      diagnostics: `request ${requestId}`,
    },
  ],
});
