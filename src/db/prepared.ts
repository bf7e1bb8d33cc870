import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { QueryResult, QueryResultRow } from 'pg';
import type { DbOrTx } from './client.js';

const dialect = new PgDialect();

/**
 * Runs `query` as a prepared statement named after its text, so each session parses it once and
 * PostgreSQL may keep a generic plan for it instead of planning every execution. For statements
 * of a fixed shape whose values are all parameters (an array of ids, not a list of literals) and
 * whose plan does not hinge on a value: a `limit $n` is not one (the generic plan assumes a tenth
 * of the table).
 */
export function executePrepared<T extends QueryResultRow>(db: DbOrTx, query: SQL): Promise<QueryResult<T>> {
  const q = dialect.sqlToQuery(query);
  const name = `biobank_${createHash('sha1').update(q.sql).digest('hex').slice(0, 20)}`;
  return db._.session.prepareQuery(q, undefined, name, false).execute() as Promise<QueryResult<T>>;
}
