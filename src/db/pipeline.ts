import type pg from 'pg';

/** A statement and its parameters, sent as text. */
export interface PipelinedStatement {
  text: string;
  values?: readonly (string | null)[];
  /**
   * Prepared once per connection under this name (src/db/prepared.ts names it after its text),
   * then only bound and executed: PostgreSQL neither parses nor plans it again.
   */
  name?: string;
}

/** The rows one statement answered, each as its fields' text (no row description is asked). */
export type TextRows = (string | null)[][];

/** The slice of pg's connection a submittable writes to. */
interface Wire {
  stream: { cork?: () => void; uncork?: () => void };
  /** pg's own record of the statements prepared on this connection, by name */
  parsedStatements: Record<string, string>;
  parse(m: { text: string; name?: string; types: number[] }): void;
  bind(m: { statement?: string; values: readonly (string | null)[] }): void;
  execute(m: { rows: number }): void;
  sync(): void;
}

/**
 * Statements sent in one round trip: the extended protocol's messages of each, then one Sync.
 * PostgreSQL runs them in order and, after an error, skips the rest up to the Sync, so a
 * statement that raises keeps the ones after it (a COMMIT) from running. Values stay parameters:
 * they never enter the statement text, logs or traces.
 *
 * A pg "submittable": the client hands it the connection when the connection is free, and its
 * messages. `text` names the statements for pg's instrumentation.
 */
class Pipeline {
  readonly text: string;
  private readonly results: TextRows[] = [];
  private current: TextRows = [];
  private settled = false;

  constructor(
    private readonly statements: readonly PipelinedStatement[],
    private readonly settle: (err: Error | undefined, results?: TextRows[]) => void,
    /** only prepare the (named) statements, running none */
    private readonly prepareOnly = false,
  ) {
    this.text = statements.map((s) => s.text).join(';\n');
  }

  submit(connection: Wire): null {
    // One write for every message, as pg does for one statement.
    connection.stream.cork?.();
    try {
      for (const s of this.statements) {
        if (this.prepareOnly) {
          connection.parse({ text: s.text, name: s.name, types: [] });
          continue;
        }
        if (!s.name) connection.parse({ text: s.text, types: [] });
        connection.bind({ statement: s.name, values: s.values ?? [] });
        connection.execute({ rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.current.push(msg.fields);
  }

  handleCommandComplete(): void {
    this.results.push(this.current);
    this.current = [];
  }

  handleEmptyQuery(): void {
    this.handleCommandComplete();
  }

  /** An ErrorResponse (the client forgets this submittable then) or a lost connection. */
  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(undefined, this.results);
  }

  handleRowDescription(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}

  private finish(err: Error | undefined, results?: TextRows[]): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(err, results);
  }
}

/**
 * Runs `statements` in one round trip on `client`. Resolves with each statement's rows (as
 * text); rejects with the first error, after which PostgreSQL ran none of the later statements.
 */
export async function pipelined(
  client: pg.ClientBase,
  statements: readonly PipelinedStatement[],
): Promise<TextRows[]> {
  const { parsedStatements } = (client as unknown as { connection: Wire }).connection;
  for (const s of statements) {
    if (!s.name || parsedStatements[s.name] === s.text) continue;
    // The first use on this connection: prepared on its own, so that a statement that raises
    // later leaves no doubt whether its preparation happened.
    await submit(client, [s], true);
    parsedStatements[s.name] = s.text;
  }
  return submit(client, statements, false);
}

function submit(
  client: pg.ClientBase,
  statements: readonly PipelinedStatement[],
  prepareOnly: boolean,
): Promise<TextRows[]> {
  return new Promise((resolve, reject) => {
    const pipeline = new Pipeline(
      statements,
      (err, results) => (err ? reject(err) : resolve(results ?? [])),
      prepareOnly,
    );
    void client.query(pipeline as unknown as pg.Submittable);
  });
}
