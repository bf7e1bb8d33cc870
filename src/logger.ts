import pino, { type Logger } from 'pino';

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
    },
    destination,
  );
}
