import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgTransaction } from 'drizzle-orm/pg-core';
import type { NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { Log } from '../context.js';

export type Db = NodePgDatabase;
export type Tx = PgTransaction<
  NodePgQueryResultHKT,
  Record<string, never>,
  ExtractTablesWithRelations<Record<string, never>>
>;
/** A handle that may be the pool or an open transaction (STYLE.md rule 4). */
export type DbOrTx = Db | Tx;

// bigint (int8) columns hold counts and sequence numbers well inside 2^53: parse as numbers.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export interface Database {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

/**
 * Every session of this service names itself so (the pool's default; the relay adds a suffix):
 * readers that must wait for the service's own writes can tell them from a DBA's psql or a backup.
 */
export const SERVICE_APPLICATION_NAME = 'biobank';

/** The URL without an `application_name`, which would override the service's own (node-postgres). */
function withoutApplicationName(url: string): string {
  if (!/[?&]application_name=/.test(url)) return url;
  const u = new URL(url);
  u.searchParams.delete('application_name');
  return u.toString();
}

export function createDatabase(
  url: string,
  opts: { poolSize: number; applicationName?: string; log?: Pick<Log, 'warn'> },
): Database {
  const pool = new pg.Pool({
    connectionString: withoutApplicationName(url),
    max: opts.poolSize,
    application_name: opts.applicationName ?? SERVICE_APPLICATION_NAME,
    // A request never waits forever for a connection: it fails and is answered 503 DATABASE_BUSY
    // (pg-errors.ts).
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // A session whose client died (the process was killed) is ended by PostgreSQL within two
    // seconds even while it waits in a statement, so its locks and its Idempotency-Key claim
    // (src/http/idempotency.ts) pass to the next attempt; TCP keepalive finds a vanished host.
    options: '-c client_connection_check_interval=2000',
    keepAlive: true,
  });
  // An idle client's error (e.g. the server restarted) must not crash the process; the pool
  // discards that client and the next query opens a new one.
  pool.on('error', () => undefined);
  // pg-pool listens for errors on idle clients only. A client checked out by a transaction whose
  // session ends (57P01 on a restart or pg_terminate_backend, a reset socket) emits `error` too,
  // which would be an uncaught exception: here it is a failed request instead. The client marks
  // itself unqueryable, its queries reject (503 DATABASE_UNAVAILABLE, pg-errors.ts), and the pool
  // discards it when it is released.
  pool.on('connect', (client) => {
    client.on('error', (err) => opts.log?.warn({ err }, 'a database connection was lost'));
  });
  const db = drizzle({ client: pool });
  let closed = false;
  return {
    pool,
    db,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
