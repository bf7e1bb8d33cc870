// One DomainError family with stable codes (CONTRIBUTING.md rules 13-14). REST maps them to
// application/problem+json, GraphQL to extensions.code; both through toProblem().
import type { z } from 'zod';

export type ErrorKind =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required'
  | 'request_timeout'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'not_acceptable'
  | 'unprocessable'
  | 'too_many_requests'
  | 'headers_too_large'
  | 'unavailable';

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  precondition_required: 428,
  request_timeout: 408,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  not_acceptable: 406,
  unprocessable: 422,
  too_many_requests: 429,
  headers_too_large: 431,
  unavailable: 503,
};

const TITLE: Record<ErrorKind, string> = {
  bad_request: 'Bad request',
  unauthenticated: 'Unauthenticated',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  precondition_failed: 'Precondition failed',
  precondition_required: 'Precondition required',
  request_timeout: 'Request timeout',
  payload_too_large: 'Payload too large',
  uri_too_long: 'URI too long',
  unsupported_media_type: 'Unsupported media type',
  not_acceptable: 'Not acceptable',
  unprocessable: 'Unprocessable content',
  too_many_requests: 'Too many requests',
  headers_too_large: 'Request header fields too large',
  unavailable: 'Service unavailable',
};

/**
 * Every code the service answers, and its kind (so its HTTP status): a code is answered with one
 * status wherever it is raised. The constructors live in this file for the generic codes and in
 * the owning module's `<module>.errors.ts` for the others. Clients switch on these codes: adding
 * one is a change to the API, renaming one breaks clients.
 */
export const ERROR_CATALOGUE = {
  // The request itself
  VALIDATION_FAILED: 'bad_request',
  MALFORMED_JSON: 'bad_request',
  EMPTY_BODY: 'bad_request',
  INVALID_CONTENT_LENGTH: 'bad_request',
  BAD_REQUEST: 'bad_request',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  NOT_ACCEPTABLE: 'not_acceptable',
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  ROUTE_NOT_FOUND: 'not_found',
  MALFORMED_URL: 'bad_request',
  MALFORMED_REQUEST: 'bad_request',
  PATH_PARAMETER_TOO_LONG: 'uri_too_long',
  HEADERS_TOO_LARGE: 'headers_too_large',
  REQUEST_TIMEOUT: 'request_timeout',
  INVALID_CURSOR: 'bad_request',
  INVALID_EXPIRY: 'bad_request',
  GRAPHQL_VALIDATION_FAILED: 'bad_request',
  QUERY_TOO_DEEP: 'bad_request',
  TOO_MANY_ALIASES: 'bad_request',
  TOO_MANY_OPERATIONS: 'bad_request',
  TOO_MANY_TOKENS: 'bad_request',
  QUERY_TOO_COSTLY: 'bad_request',
  // Who is asking
  UNAUTHENTICATED: 'unauthenticated',
  FORBIDDEN: 'forbidden',
  RATE_LIMITED: 'too_many_requests',
  BREAK_GLASS_REQUIRED: 'forbidden',
  // Versions, retries and batches
  VERSION_CONFLICT: 'precondition_failed',
  VERSION_MISMATCH: 'precondition_failed',
  NO_CURRENT_VERSION: 'precondition_failed',
  IF_MATCH_REQUIRED: 'precondition_required',
  INVALID_IDEMPOTENCY_KEY: 'bad_request',
  IDEMPOTENCY_KEY_IN_USE: 'conflict',
  IDEMPOTENCY_KEY_REUSED: 'unprocessable',
  BATCH_REJECTED: 'unprocessable',
  // Upserts by a natural key
  IMMUTABLE_FIELD: 'conflict',
  // The database's last word, and availability
  ALREADY_EXISTS: 'conflict',
  CONSTRAINT_VIOLATED: 'unprocessable',
  REFERENCE_NOT_FOUND: 'unprocessable',
  CONCURRENT_UPDATE: 'conflict',
  LOCKED: 'conflict',
  TIMEOUT: 'unavailable',
  DATABASE_BUSY: 'unavailable',
  SERVER_BUSY: 'unavailable',
  DATABASE_UNAVAILABLE: 'unavailable',
  NOT_READY: 'unavailable',
  SHUTTING_DOWN: 'unavailable',
  // src/auth (api-keys.errors.ts)
  API_KEY_NOT_FOUND: 'not_found',
  API_KEY_REVOKED: 'conflict',
  INSTITUTION_REQUIRED: 'bad_request',
  // institutions
  INSTITUTION_NOT_FOUND: 'not_found',
  INSTITUTION_CODE_TAKEN: 'conflict',
  OPERATOR_EXISTS: 'conflict',
  // participants
  PROTOCOL_NOT_FOUND: 'not_found',
  PROTOCOL_CODE_TAKEN: 'conflict',
  PARTICIPANT_NOT_FOUND: 'not_found',
  PARTICIPANT_EXISTS: 'conflict',
  // storage
  CONTAINER_NOT_FOUND: 'not_found',
  CONTAINER_BARCODE_TAKEN: 'conflict',
  INVALID_PARENT: 'unprocessable',
  CONTAINER_CYCLE: 'unprocessable',
  GRID_REQUIRED: 'bad_request',
  NO_GRID: 'bad_request',
  SLOT_REQUIRED: 'bad_request',
  SLOT_NOT_ALLOWED: 'bad_request',
  SLOT_OCCUPIED: 'conflict',
  NOT_A_SPECIMEN_CONTAINER: 'unprocessable',
  POSITION_REQUIRED: 'bad_request',
  POSITION_NOT_ALLOWED: 'bad_request',
  POSITION_OUTSIDE_GRID: 'bad_request',
  POSITION_OCCUPIED: 'conflict',
  TYPE_NOT_ALLOWED: 'unprocessable',
  INVALID_READING: 'bad_request',
  RACK_SCAN_REJECTED: 'unprocessable',
  // specimens
  SPECIMEN_NOT_FOUND: 'not_found',
  BARCODE_TAKEN: 'conflict',
  EXTERNAL_ID_TAKEN: 'conflict',
  TIME_IN_FUTURE: 'bad_request',
  TIME_BEFORE_COLLECTION: 'bad_request',
  CONTAINER_REQUIRED: 'bad_request',
  PROTOCOL_MISMATCH: 'unprocessable',
  DUPLICATE_SCAN: 'conflict',
  DERIVATIVE_NOT_ALLOWED: 'unprocessable',
  INVALID_TRANSITION: 'conflict',
  SPECIMEN_ON_HOLD: 'conflict',
  HOLD_EXISTS: 'conflict',
  HOLD_NOT_FOUND: 'conflict',
  HOLD_MANAGED_BY_CONSENT: 'conflict',
  INSUFFICIENT_QUANTITY: 'conflict',
  // consent
  CONSENT_NOT_FOUND: 'not_found',
  CONSENT_EXISTS: 'conflict',
  SIGNED_DATE_IN_FUTURE: 'bad_request',
  TIER_NOT_IN_PROTOCOL: 'unprocessable',
  CONSENT_SUPERSEDED: 'conflict',
  CONSENT_SIGNED_BEFORE_CURRENT: 'conflict',
  CONSENT_ALREADY_WITHDRAWN: 'conflict',
  UNKNOWN_USE: 'bad_request',
  CONSENT_NOT_GRANTED: 'conflict',
  CASCADE_NOT_FOUND: 'not_found',
  /** only as an item of BATCH_REJECTED (a destruction scan) */
  NOT_ON_DESTRUCTION_LIST: 'unprocessable',
  // standards
  SPREC_VERSION_UNSUPPORTED: 'bad_request',
  SPREC_CODE_EMPTY: 'bad_request',
  QUALITY_RULES_VERSION_NOT_FOUND: 'not_found',
  QUALITY_RULES_CONFLICT: 'conflict',
  UNKNOWN_RULE_FIELD: 'unprocessable',
  DUPLICATE_RULE_ID: 'unprocessable',
  RUN_NOT_FOUND: 'not_found',
  // webhooks
  WEBHOOK_DELIVERY_NOT_FOUND: 'not_found',
  WEBHOOK_DELIVERY_PENDING: 'conflict',
  WEBHOOK_NOT_CONFIGURED: 'conflict',
  WEBHOOK_URL_REFUSED: 'unprocessable',
  // sharing
  AGREEMENT_NOT_FOUND: 'not_found',
  AGREEMENT_EXISTS: 'conflict',
  AGREEMENT_NOT_IN_FORCE: 'unprocessable',
  AGREEMENT_WITH_SELF: 'unprocessable',
  USE_NOT_IN_AGREEMENT: 'unprocessable',
  SHARING_REQUEST_NOT_FOUND: 'not_found',
  INVALID_REQUEST_TRANSITION: 'conflict',
  SPECIMENS_TAKEN: 'conflict',
  ITEM_NOT_ELIGIBLE: 'unprocessable',
  SHARING_ITEM_NOT_FOUND: 'not_found',
  PROPOSAL_INCOMPLETE: 'unprocessable',
  SHIPMENT_EXISTS: 'conflict',
  SHIPMENT_NOT_FOUND: 'not_found',
  NOT_IN_SHIPMENT: 'unprocessable',
  ITEM_NOT_RESERVED: 'conflict',
  ITEM_ALREADY_SHIPPED: 'conflict',
  SHIPMENT_EMPTY: 'unprocessable',
  SHIPMENT_INCOMPLETE: 'conflict',
  RECEIVED_BEFORE_DISPATCH: 'bad_request',
  RESERVATION_EXPIRED: 'conflict',
  ITEM_ALREADY_RECEIVED: 'conflict',
  RELABEL_REQUIRED: 'conflict',
  // imports
  IMPORT_NOT_FOUND: 'not_found',
  IMPORT_MALFORMED: 'bad_request',
  IMPORT_REJECTED: 'unprocessable',
  /** only as a row error of an import */
  MALFORMED_ROW: 'bad_request',
  /** only as a row error of an import */
  DUPLICATE_IN_FILE: 'conflict',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_CATALOGUE, code);

/** The code of the bare 500 answered for a bug: not a DomainError, so not in the catalogue. */
export const INTERNAL_ERROR_CODE = 'INTERNAL';

/**
 * The two codes answered with a second status: a specimen registration naming an unknown
 * participant or protocol answers 422 (an unusable reference in the body), while every other
 * place answers 404. Kept as it was when the catalogue was written; nothing else may differ
 * from the catalogue.
 */
const AS_REFERENCE = {
  PARTICIPANT_NOT_FOUND: 'unprocessable',
  PROTOCOL_NOT_FOUND: 'unprocessable',
} as const satisfies Partial<Record<ErrorCode, ErrorKind>>;
export type ReferenceCode = keyof typeof AS_REFERENCE;

/** A zod issue code (`invalid_type`, `too_big`, ...): validation problems carry these. */
export type ZodIssueCode = z.core.$ZodIssue['code'];

export interface FieldProblem {
  /** JSON pointer-ish path of the field, e.g. `body.items.3.barcode` */
  field: string;
  message: string;
  /** a catalogue code (items of BATCH_REJECTED, quality rules) or a zod issue code (VALIDATION_FAILED) */
  code?: ErrorCode | ZodIssueCode;
}

/** The HTTP status a code is answered with (GraphQL's `extensions.status` for errors it raises itself). */
export const statusOfCode = (code: string): number | undefined =>
  code in ERROR_CATALOGUE ? STATUS[ERROR_CATALOGUE[code as ErrorCode]] : undefined;

export class DomainError extends Error {
  override name = 'DomainError';
  readonly kind: ErrorKind;
  readonly status: number;
  /**
   * The same as `status`, under the name Fastify plugins with error handlers of their own read
   * (the queue board's), so a refusal there keeps its 401 or 403 instead of becoming a 500.
   */
  readonly statusCode: number;
  readonly title: string;
  constructor(code: ErrorCode, message: string, errors?: FieldProblem[], details?: Record<string, unknown>);
  /** An unknown participant or protocol named by a specimen registration (see AS_REFERENCE). */
  constructor(
    code: ReferenceCode,
    message: string,
    errors: FieldProblem[],
    details: Record<string, unknown>,
    asReference: true,
  );
  constructor(
    /** stable SCREAMING_SNAKE code clients may switch on */
    readonly code: ErrorCode,
    message: string,
    readonly errors: FieldProblem[] = [],
    /** extra machine-readable facts (e.g. the current status of a specimen) */
    readonly details: Record<string, unknown> = {},
    asReference?: true,
  ) {
    super(message);
    this.kind = asReference ? AS_REFERENCE[code as ReferenceCode] : ERROR_CATALOGUE[code];
    this.status = STATUS[this.kind];
    this.statusCode = this.status;
    this.title = TITLE[this.kind];
  }

  /** The same refusal, naming the field of the batch item it concerns. */
  atField(field: string): DomainError {
    return new DomainError(this.code, this.message, [{ field, message: this.message }], this.details);
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  errors?: FieldProblem[];
  [extra: string]: unknown;
}

export const PROBLEM_TYPE_BASE = 'https://biobank.dev/problems/';

export function toProblem(err: DomainError, requestId?: string): Problem {
  return {
    type: PROBLEM_TYPE_BASE + err.code.toLowerCase().replaceAll('_', '-'),
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    ...(requestId ? { requestId } : {}),
    ...(err.errors.length ? { errors: err.errors } : {}),
    ...err.details,
  };
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

// Generic constructors: one per code, each with one message shape. Module codes are built in the
// module's own `<module>.errors.ts`.

/** Invalid input: the detail names the first field, `errors` lists every one. */
export const validationFailed = (errors: FieldProblem[]) =>
  new DomainError(
    'VALIDATION_FAILED',
    errors[0] ? `${errors[0].field}: ${errors[0].message}` : 'the request is not valid',
    errors,
  );

/** A method the resource exists for but does not take (FHIR interactions not supported). */
export const methodNotAllowed = (method: string, path: string, allowed: readonly string[]) =>
  new DomainError('METHOD_NOT_ALLOWED', `${method} ${path} is not supported: ${allowed.join(', ')} are`);

export const malformedJson = (detail = 'the body is not valid JSON') =>
  new DomainError('MALFORMED_JSON', detail);
export const emptyBody = () =>
  new DomainError('EMPTY_BODY', 'the body is empty but the content type says JSON');
export const invalidContentLength = () =>
  new DomainError('INVALID_CONTENT_LENGTH', 'the Content-Length header does not match the body');
/** A 4xx the web framework raised without product words of its own: its message is kept. */
export const frameworkRefusal = (message: string) => new DomainError('BAD_REQUEST', message);
export const payloadTooLarge = () =>
  new DomainError('PAYLOAD_TOO_LARGE', 'the request body is larger than this service accepts');
export const unsupportedMediaType = (detail = 'send the body as application/json') =>
  new DomainError('UNSUPPORTED_MEDIA_TYPE', detail);
/** The client accepts no format the service can answer in (FHIR: JSON only). */
export const notAcceptable = (answers: string) =>
  new DomainError('NOT_ACCEPTABLE', `the Accept header admits no format this service answers in: ${answers}`);
export const routeNotFound = (method: string, path: string) =>
  new DomainError('ROUTE_NOT_FOUND', `no route ${method} ${path}`);
/** The path does not decode (bad percent-encoding). */
export const malformedUrl = () =>
  new DomainError('MALFORMED_URL', 'the URL path is not valid percent-encoding');
/** The HTTP request itself did not parse (the request line, a header, Content-Length). */
export const malformedRequest = () => new DomainError('MALFORMED_REQUEST', 'the HTTP request is malformed');
export const pathParameterTooLong = (max: number) =>
  new DomainError('PATH_PARAMETER_TOO_LONG', `a path parameter is longer than ${max} characters`);
export const headersTooLarge = () =>
  new DomainError('HEADERS_TOO_LARGE', 'the URL and headers together are larger than this service accepts');
export const requestTimeout = () =>
  new DomainError('REQUEST_TIMEOUT', 'the request was not received in time');

export const invalidCursor = (field = 'cursor') =>
  new DomainError('INVALID_CURSOR', 'the cursor is not one this service issued', [
    { field, message: 'malformed cursor' },
  ]);

/** An expiry that does not come after the moment it must follow (`signedOn 2024-01-10`, `now`). */
export const invalidExpiry = (field: string, value: string, mustFollow: string) =>
  new DomainError('INVALID_EXPIRY', `${field} ${value} is not after ${mustFollow}`, [
    { field, message: `not after ${mustFollow}` },
  ]);

/** The GraphQL document was refused before it ran; `code` is its first coded reason's. */
export const graphqlDocumentRefused = (reasons: string, code: GraphqlDocumentCode) =>
  new DomainError(code, reasons || 'the GraphQL document is not valid');

/** The codes a refused GraphQL document may answer (its validation rules' and scalars'). */
export const GRAPHQL_DOCUMENT_CODES = [
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_DEEP',
  'TOO_MANY_ALIASES',
  'TOO_MANY_OPERATIONS',
  'TOO_MANY_TOKENS',
  'QUERY_TOO_COSTLY',
  'VALIDATION_FAILED',
] as const satisfies readonly ErrorCode[];
export type GraphqlDocumentCode = (typeof GRAPHQL_DOCUMENT_CODES)[number];

/**
 * A GraphQL query asking for more objects than the limit (config GRAPHQL_MAX_COST): each list
 * counts its `first` (or its default size) times what it selects.
 */
export const queryTooCostly = (cost: number, limit: number) =>
  new DomainError(
    'QUERY_TOO_COSTLY',
    `the query costs ${cost}, over the limit of ${limit}: ask for smaller pages (first) or fewer nested lists`,
    [],
    { cost, limit },
  );

export const unauthenticated = () => new DomainError('UNAUTHENTICATED', 'a valid API key is required');

/**
 * Too many requests in the window: `who` says whose budget is spent (`this API key`, `failed
 * authentications from this address`); `limit` the budget, `retryAfter` seconds until it refills.
 */
export const rateLimited = (who: string, limit: number, retryAfter: number) =>
  new DomainError('RATE_LIMITED', `${who} made more than ${limit} requests in the window; retry later`, [], {
    retryAfter,
    limit,
  } satisfies RetryAfter & { limit: number });

/** `who` is the role or actor (`the technician role`), `operation` what it tried. */
export const forbidden = (who: string, operation: string) =>
  new DomainError('FORBIDDEN', `${who} may not perform ${operation}`);

/** A stale write: the caller's version is not the current one (REST 412, GraphQL VERSION_CONFLICT). */
export const versionConflict = (what: string, expected: number | '*', current: number) =>
  new DomainError(
    'VERSION_CONFLICT',
    `${what} is at version ${current}, not ${expected}; read it again and retry`,
    [],
    { currentVersion: current },
  );

/**
 * An upsert sent a version to match (If-Match, expectedVersion) but nothing holds its key yet, so
 * it would create: RFC 9110 13.1.1 makes that a failed precondition. `what` names the key sent
 * (`specimen with external id LIS A-1`).
 */
export const noCurrentVersion = (what: string, expected: number | '*') =>
  new DomainError(
    'NO_CURRENT_VERSION',
    `no ${what} exists, so it has no version ${expected} to match; send no version to create it`,
  );

/**
 * An upsert whose body gives another value to fields fixed once the record exists (a tube's
 * type, a protocol's consent tiers). `what` names the record (`specimen BC-1`); each field
 * problem says what is stored and what was sent. Nothing is written.
 */
export const immutableField = (what: string, fields: FieldProblem[]) =>
  new DomainError(
    'IMMUTABLE_FIELD',
    `${what} cannot change ${fields.map((f) => f.field).join(', ')} once it exists`,
    fields,
  );

export const ifMatchRequired = () =>
  new DomainError('IF_MATCH_REQUIRED', 'send If-Match with the ETag you last read');

export const versionMismatch = (ifMatch: string) =>
  new DomainError('VERSION_MISMATCH', `If-Match ${ifMatch} is not an ETag this service issued`);

export const invalidIdempotencyKey = () =>
  new DomainError('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [
    { field: 'header.idempotency-key', message: 'invalid' },
  ]);

export const idempotencyKeyInUse = (key: string) =>
  new DomainError(
    'IDEMPOTENCY_KEY_IN_USE',
    `a request with Idempotency-Key ${key} is still being processed; retry shortly`,
    [],
    { retryAfter: 1 } satisfies RetryAfter,
  );

export const idempotencyKeyReused = (key: string) =>
  new DomainError(
    'IDEMPOTENCY_KEY_REUSED',
    `Idempotency-Key ${key} was already used for a different request`,
  );

/** One error for a batch: every item's problem, each naming its field. */
export function batchRejected(errors: Map<number, DomainError>, total: number): DomainError {
  const problems: FieldProblem[] = [...errors.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, e]) =>
      e.errors.length
        ? e.errors.map((f) => ({ ...f, code: e.code, message: `${e.message}` }))
        : [{ field: '', message: e.message, code: e.code }],
    );
  return new DomainError(
    'BATCH_REJECTED',
    `${errors.size} of ${total} items were refused; nothing was changed`,
    problems,
  );
}

/**
 * A tube position taken: storage plans placements, the specimen table's unique index has the last
 * word. `container` is named as people read it (`box BX-0042`), `by` is the barcode of the tube
 * there or `item 2 of this request`. `at` null: the database refused the tube a moment after the
 * check passed, and the position is not known there. `field` null: the answer names no field (a
 * rack scan refuses the whole box).
 */
export const positionOccupied = (
  at: { position: string; container: string; by: string } | null,
  field: string | null = 'position',
) =>
  new DomainError(
    'POSITION_OCCUPIED',
    at
      ? `position ${at.position} of ${at.container} is occupied by ${at.by}`
      : 'the position was taken by another request a moment ago',
    field === null ? [] : [{ field, message: 'occupied' }],
  );

export const alreadyExists = () =>
  new DomainError('ALREADY_EXISTS', 'a record with the same identifying values already exists');
export const constraintViolated = () =>
  new DomainError('CONSTRAINT_VIOLATED', 'the change breaks a data rule');
export const referenceNotFound = () =>
  new DomainError('REFERENCE_NOT_FOUND', 'a referenced record does not exist');
export const concurrentUpdate = () =>
  new DomainError('CONCURRENT_UPDATE', 'a concurrent change interfered; retry the request');
export const recordLocked = () =>
  new DomainError('LOCKED', 'the record is being changed by another request; retry the request');
export const databaseTimeout = () => new DomainError('TIMEOUT', 'the database took too long to answer');
/**
 * A refusal the caller should retry after `retryAfter` seconds: REST sends it as the Retry-After
 * header too (RFC 9110 section 10.2.3), GraphQL as `extensions.retryAfter`.
 */
export interface RetryAfter {
  retryAfter: number;
}

/** No connection, or no answer, in time: the caller may retry shortly (503). */
export const databaseBusy = () =>
  new DomainError('DATABASE_BUSY', 'the database is too busy to answer now; retry shortly', [], {
    retryAfter: 1,
  } satisfies RetryAfter);

/**
 * The connection to PostgreSQL was lost or cannot be made (a restart, a failover, a terminated
 * session). A connection lost during COMMIT leaves its outcome unknown to us: a retry with the
 * same Idempotency-Key either replays the committed answer or runs the request again (503).
 */
export const databaseUnavailable = () =>
  new DomainError('DATABASE_UNAVAILABLE', 'the database cannot be reached right now; retry shortly', [], {
    retryAfter: 2,
  } satisfies RetryAfter);

/** Too much work already running in this process (GraphQL costs in flight): retry shortly. */
export const serverBusy = (retryAfter: number) =>
  new DomainError(
    'SERVER_BUSY',
    'the server is running as much work as it takes at once; retry shortly',
    [],
    {
      retryAfter,
    } satisfies RetryAfter,
  );

/** This process is stopping: the request should go to another one. */
export const shuttingDown = () =>
  new DomainError('SHUTTING_DOWN', 'this server is shutting down; retry the request');

/** `down` names the dependencies that did not answer (`postgres`, `redis`). */
export const notReady = (down: string[], checks: Record<string, string>) =>
  new DomainError('NOT_READY', `down: ${down.join(', ')}`, [], { checks });
