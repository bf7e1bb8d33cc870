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
type WithActor = { [REQUEST_ACTOR]?: ActorBindings };

/** pino JSON logs; tokens and cookies never reach them (DESIGN.md section 6). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino mutates what a mixin returns: a fresh object per line.
      mixin: (_object, _level, logger) => {
        const bindings = (logger as WithActor)[REQUEST_ACTOR];
        return bindings ? { ...bindings } : {};
      },
    },
    destination,
  );
}
