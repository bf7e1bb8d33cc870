import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

/**
 * Who a request acts for, on every line its logger writes. Set as a property of the request's
 * logger (pino's documented mixin pattern) rather than as child bindings: bindings are serialized
 * and redacted when set, on every request, while a mixin costs only on the lines written.
 */
export const REQUEST_ACTOR = Symbol('biobank.requestActor');
export interface ActorBindings {
  actor: string;
  apiKeyId: string;
}
/** The request id (`reqId`) on every line a request's logger writes, the same way. */
const REQUEST_ID = Symbol('biobank.requestId');
type WithRequest = { [REQUEST_ACTOR]?: ActorBindings; [REQUEST_ID]?: string };

/** Properties of a database error that carry values: the statement's parameters, the row. */
const VALUE_FIELDS = new Set(['params', 'parameters', 'detail', 'where', 'internalQuery']);
/** PostgreSQL ends a data error's message with the value it refused: `... for type uuid: "x"`. */
const TRAILING_VALUE = /(: )"[\s\S]*"$/;

/**
 * The error as it may be logged or stored: a failed statement keeps its SQL text and SQLSTATE but
 * loses its parameters (drizzle puts them in `params` and in the message), and PostgreSQL's
 * `detail` and quoted values (a row, a refused value) are left out. Secrets (a new webhook secret)
 * and donor fields travel as parameters: they never reach a log line or a failed job's reason.
 * Returns a copy; causes are redacted too.
 */
export function redactedError<T>(err: T, depth = 0): T {
  if (!(err instanceof Error) || depth > 5) return err;
  const source = err as Error & Record<string, unknown>;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error & Record<string, unknown>;
  for (const [key, value] of Object.entries(source)) {
    if (!VALUE_FIELDS.has(key)) copy[key] = value;
  }
  const message =
    typeof source.query === 'string' && 'params' in source
      ? `Failed query: ${source.query}\nparams: [not logged]`
      : err.message.replace(TRAILING_VALUE, '$1"[not logged]"');
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true });
  Object.defineProperty(copy, 'name', { value: err.name, writable: true, configurable: true });
  const stack = err.stack?.replace(err.message, () => message);
  Object.defineProperty(copy, 'stack', { value: stack, writable: true, configurable: true });
  if (err.cause !== undefined) {
    Object.defineProperty(copy, 'cause', {
      value: redactedError(err.cause, depth + 1),
      writable: true,
      configurable: true,
    });
  }
  return copy as T;
}

/** The request id, and the request's actor when authenticated. */
const actorOf = (logger: unknown): Record<string, string> => {
  const { [REQUEST_ID]: reqId, [REQUEST_ACTOR]: actor } = logger as WithRequest;
  if (reqId === undefined) return actor ? { ...actor } : {};
  return actor ? { reqId, ...actor } : { reqId };
};

/**
 * Fastify's `childLoggerFactory`: a request's logger is the app's logger marked with the request
 * id, which the mixin writes. Fastify's default, a pino child bound to `{ reqId }`, serialized and
 * redacted that binding on every request whether or not a line was written. Route options
 * (`logLevel`, serializers) still get a real child, marked the same way.
 */
export function requestLogger(
  logger: Logger,
  bindings: { reqId?: unknown },
  opts: pino.ChildLoggerOptions,
): Logger {
  const log: Logger =
    opts.level !== undefined || opts.serializers !== undefined
      ? logger.child({}, opts)
      : (Object.create(logger) as Logger);
  (log as WithRequest)[REQUEST_ID] = String(bindings.reqId);
  return log;
}

/** The actor, and the trace and span ids of the span active when the line is written. */
const actorAndTraceOf = (logger: unknown): Record<string, string> => {
  const fields = actorOf(logger);
  const span = trace.getSpanContext(context.active());
  if (span && isSpanContextValid(span)) {
    fields.trace_id = span.traceId;
    fields.span_id = span.spanId;
  }
  return fields;
};

/**
 * pino JSON logs; tokens, cookies and SQL parameters never reach them (README "Security").
 * `traceIds` (tracing on): each line written inside a traced request or job names its trace.
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  opts: { traceIds?: boolean } = {},
): Logger {
  const fieldsOf = opts.traceIds ? actorAndTraceOf : actorOf;
  return pino(
    {
      level,
      base: { service: 'biobank' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'authorization',
          'token',
          '*.token',
          'webhookSecret',
          '*.webhookSecret',
        ],
        censor: '[redacted]',
      },
      serializers: { err: (err: unknown) => pino.stdSerializers.err(redactedError(err) as Error) },
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino mutates what a mixin returns: a fresh object per line.
      mixin: (_object, _level, logger) => fieldsOf(logger),
    },
    destination,
  );
}
