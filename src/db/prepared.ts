import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { QueryResult, QueryResultRow } from 'pg';
import type { DbOrTx } from './client.js';

const dialect = new PgDialect();

/**
 * The name of a prepared statement with this text: the same text gets the same name in every
 * session and process, and pg refuses a name already prepared with another text.
 */
export function preparedStatementName(prefix: string, text: string): string {
  return `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * Runs `query` as a prepared statement named after its text, so each session parses it once and
 * PostgreSQL may keep a generic plan for it instead of planning every execution. For statements
 * whose text is fixed (values are parameters: an array of ids, not a list of literals; each text
 * is prepared once per connection and kept) and whose plan does not hinge on a value: a
 * `limit $n` is not one (the generic plan assumes a tenth of the table).
 */
export function executePrepared<T extends QueryResultRow>(db: DbOrTx, query: SQL): Promise<QueryResult<T>> {
  const q = dialect.sqlToQuery(query);
  return db._.session
    .prepareQuery(q, undefined, preparedStatementName('biobank', q.sql), false)
    .execute() as Promise<QueryResult<T>>;
}
