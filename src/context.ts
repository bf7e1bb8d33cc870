import type { Logger } from 'pino';

/** The logging surface services use; Fastify's request logger and pino children both fit. */
export type Log = Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>;
import type { Actor } from './auth/roles.js';
import type { Tx } from './db/client.js';

/**
 * Runs inside the request's transaction: `begin` as its first statement, `beforeCommit` as its
 * last, so that what they write (the request's Idempotency-Key record and its answer) commits or
 * rolls back with the effect.
 */
export interface CommitHook {
  /** `begin` sets the transaction's request id itself, in its own first statement */
  setsRequestId?: boolean;
  begin(tx: Tx, requestId: string): Promise<void>;
  beforeCommit(tx: Tx, result: unknown): Promise<void>;
}

/** What every service method receives first: who acts, for which request, where to log. */
export interface Ctx {
  actor: Actor;
  requestId: string;
  log: Log;
  commitHook?: CommitHook;
}
