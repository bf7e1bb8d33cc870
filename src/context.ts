import type { Logger } from 'pino';

/** The logging surface services use; Fastify's request logger and pino children both fit. */
export type Log = Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>;
import type { Actor } from './auth/roles.js';
import type { Tx } from './db/client.js';

/** A value as a literal of a simple query (which takes no parameters), quoted as libpq would. */
export type SqlLiteral = (value: string | number) => string;

/**
 * Rides on the request's transaction (src/db/transaction.ts): its begin statement goes to the
 * database with BEGIN and its commit statement with COMMIT, one round trip each, so that what
 * they write (the request's Idempotency-Key record and its answer) commits or rolls back with the
 * effect at no round trip of its own.
 */
export interface CommitHook {
  /** The statement sent with BEGIN; it sets the transaction's `biobank.request_id` too. */
  beginStatement(requestId: string, literal: SqlLiteral): string;
  /** With the row the begin statement answered, before the service's work (may run statements). */
  begun(tx: Tx, row: Record<string, unknown> | undefined): Promise<void>;
  /** The statement sent with COMMIT: raising SQLSTATE COMMIT_REFUSED rolls the effect back. */
  commitStatement(result: unknown, literal: SqlLiteral): string;
  /** After the rollback a commit statement's refusal caused: throws what the request answers. */
  refused(): Promise<never>;
}

/** What every service method receives first: who acts, for which request, where to log. */
export interface Ctx {
  actor: Actor;
  requestId: string;
  log: Log;
  commitHook?: CommitHook;
}
