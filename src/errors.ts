// One DomainError family with stable codes (STYLE.md rules 11-12). REST maps them to
// application/problem+json, GraphQL to extensions.code; both through toProblem().

export interface FieldProblem {
  /** JSON pointer-ish path of the field, e.g. `body.items.3.barcode` */
  field: string;
  message: string;
  code?: string;
}

export type ErrorKind =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'too_many_requests'
  | 'unavailable';

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  precondition_required: 428,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  unavailable: 503,
};

const TITLE: Record<ErrorKind, string> = {
  bad_request: 'Bad request',
  unauthenticated: 'Unauthenticated',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  precondition_failed: 'Precondition failed',
  precondition_required: 'Precondition required',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unprocessable: 'Unprocessable content',
  too_many_requests: 'Too many requests',
  unavailable: 'Service unavailable',
};

export class DomainError extends Error {
  override name = 'DomainError';
  readonly status: number;
  /**
   * The same as `status`, under the name Fastify plugins with error handlers of their own read
   * (the queue board's), so a refusal there keeps its 401 or 403 instead of becoming a 500.
   */
  readonly statusCode: number;
  readonly title: string;
  constructor(
    readonly kind: ErrorKind,
    /** stable SCREAMING_SNAKE code clients may switch on */
    readonly code: string,
    message: string,
    readonly errors: FieldProblem[] = [],
    /** extra machine-readable facts (e.g. the current status of a specimen) */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.status = STATUS[kind];
    this.statusCode = this.status;
    this.title = TITLE[kind];
  }
}

export const badRequest = (code: string, message: string, errors: FieldProblem[] = []) =>
  new DomainError('bad_request', code, message, errors);
export const validationFailed = (errors: FieldProblem[], message = 'the request is not valid') =>
  new DomainError('bad_request', 'VALIDATION_FAILED', message, errors);
export const unauthenticated = (message: string) =>
  new DomainError('unauthenticated', 'UNAUTHENTICATED', message);
export const forbidden = (message: string) => new DomainError('forbidden', 'FORBIDDEN', message);
export const notFound = (code: string, message: string) => new DomainError('not_found', code, message);
export const conflict = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new DomainError('conflict', code, message, [], details);
export const unprocessable = (code: string, message: string, errors: FieldProblem[] = []) =>
  new DomainError('unprocessable', code, message, errors);

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

/** A stale write: the caller's version is not the current one (REST 412, GraphQL VERSION_CONFLICT). */
export const versionConflict = (what: string, expected: number, current: number) =>
  new DomainError(
    'precondition_failed',
    'VERSION_CONFLICT',
    `${what} is at version ${current}, not ${expected}; read it again and retry`,
    [],
    { currentVersion: current },
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
    'unprocessable',
    'BATCH_REJECTED',
    `${errors.size} of ${total} items were refused; nothing was changed`,
    problems,
  );
}
