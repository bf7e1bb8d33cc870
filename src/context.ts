import type { Logger } from 'pino';

/** The logging surface services use; Fastify's request logger and pino children both fit. */
export type Log = Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>;
import type { Actor } from './auth/roles.js';
import type { Tx } from './db/client.js';
import type { PipelinedStatement } from './db/pipeline.js';

/**
 * Rides on the request's transaction (src/db/transaction.ts): its begin statement goes to the
 * database with BEGIN and its commit statement with COMMIT, one round trip each, so that what
 * they write (the request's Idempotency-Key record and its answer) commits or rolls back with the
 * effect at no round trip of its own.
 */
export interface CommitHook {
  /** The statement sent with BEGIN; it sets the transaction's `biobank.request_id` too. */
  beginStatement(requestId: string): PipelinedStatement;
  /** With the first row the begin statement answered (fields as text), before the service's work. */
  begun(tx: Tx, row: readonly (string | null)[] | undefined): Promise<void>;
  /** The statement sent with COMMIT: raising SQLSTATE COMMIT_REFUSED rolls the effect back. */
  commitStatement(result: unknown): PipelinedStatement;
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
