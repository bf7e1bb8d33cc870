import pg from 'pg';

// Where the import's time goes, statement by statement: every query this process sends through
// `pg` is timed from send to answer and summed by the statement's opening words, so the report
// can tell the SQL (per table and check) from the application's own work between statements.

const label = (text: string) => text.replace(/\s+/g, ' ').trim().replace(/\$\d+/g, '$').slice(0, 72);

export interface StatementTimes {
  /** stops timing; the statements by total seconds, largest first */
  stop(): { statement: string; calls: number; seconds: number }[];
}

export function timeStatements(): StatementTimes {
  const totals = new Map<string, { calls: number; ns: bigint }>();
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  // Promise-style calls only (drizzle and the services use them); callbacks pass through untimed.
  const timed = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    if (!(result instanceof Promise)) return result;
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
    if (!text) return result;
    const started = process.hrtime.bigint();
    const add = () => {
      const key = label(text);
      const t = totals.get(key) ?? { calls: 0, ns: 0n };
      t.calls++;
      t.ns += process.hrtime.bigint() - started;
      totals.set(key, t);
    };
    result.then(add, add);
    return result;
  };
  proto.query = timed;
  return {
    stop() {
      proto.query = original;
      return [...totals.entries()]
        .map(([statement, t]) => ({ statement, calls: t.calls, seconds: Number(t.ns) / 1e9 }))
        .sort((a, b) => b.seconds - a.seconds);
    },
  };
}
