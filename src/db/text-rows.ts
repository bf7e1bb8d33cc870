import pg from 'pg';

/** A row as PostgreSQL sent it in text format: one string per column, null for SQL NULL. */
export type TextRow = (string | null)[];

export interface TextRowsStatement {
  /** prepared statement name: each connection parses the text once */
  name: string;
  text: string;
  values: unknown[];
  /** fails the query with 'Query read timeout' past this many milliseconds (node-postgres) */
  timeoutMs: number;
}

/**
 * node-postgres' own query (it prepares, binds, executes and reports errors), keeping each row as
 * the array of column texts the protocol parser read. What it skips is the result object a plain
 * query builds every time: the field descriptions copied into a null-prototype row template and
 * spread into each row, a type parser looked up per column, the command tag matched by a regular
 * expression, the 'row' and 'end' events. For the hottest reads (the scan lookup), whose few
 * columns are text or JSON read as text: 1-3 µs of a lone lookup's 47, its deadline timer included,
 * and no node-postgres row object per row of a batch (bench/scan-statement.ts, BENCHMARKS.md).
 */
class TextRowsQuery extends pg.Query {
  readonly rowsRead: TextRow[] = [];
  // node-postgres' client reads the deadline from the query it is given.
  readonly query_timeout: number;

  constructor(statement: TextRowsStatement) {
    super({ name: statement.name, text: statement.text, values: statement.values });
    this.query_timeout = statement.timeoutMs;
  }

  handleRowDescription(): void {
    // The statement's columns are known to its caller.
  }

  handleDataRow(msg: { fields: TextRow }): void {
    this.rowsRead.push(msg.fields);
  }

  handleCommandComplete(): void {
    // Only the rows are wanted; no `rows` limit is set, so there is no portal to sync.
  }

  handleReadyForQuery(): void {
    const callback = (this as unknown as { callback?: (err: Error | null, rows: TextRow[]) => void })
      .callback;
    // As node-postgres' own query: a callback that throws does not stop the connection's next query.
    try {
      callback?.(null, this.rowsRead);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
}

/** Runs a prepared statement on a pooled connection and answers its rows as column texts. */
export function queryTextRows(pool: pg.Pool, statement: TextRowsStatement): Promise<TextRow[]> {
  // Given a query object, pg-pool hands it to a client and answers a promise of what the query
  // calls back with (its types describe the client's form, which answers the query object).
  return pool.query(new TextRowsQuery(statement)) as unknown as Promise<TextRow[]>;
}
