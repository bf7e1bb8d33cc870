import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The ceiling of `npm run bench -- import`: what share of a bare COPY the schema itself allows.
// The rows the import wrote (specimens, custody events, external ids, audit rows) are copied out
// to files, then, in one transaction that is rolled back, the tables are emptied as the import
// found them and the files are COPY'd straight back into the real tables: every index, check,
// foreign key and the change-feed capture trigger, but no validation, staging, checks or
// application code. The append-only guards refuse TRUNCATE, so they are switched off inside that
// transaction only; the rollback restores them with the rows.

/** The tables an imported tube is written to, in dependency order, with the columns COPY fills. */
const TABLES = [
  { name: 'specimen', columns: '*', where: 'true' },
  { name: 'specimen_external_id', columns: '*', where: 'true' },
  {
    name: 'custody_event',
    columns: `specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor, request_id,
      from_container_id, from_position, to_container_id, to_position, quantity_change, details,
      prev_hash, hash, actor_name, actor_role, actor_institution_code, hash_version`,
    where: 'true',
  },
  {
    name: 'audit_log',
    columns: `institution_id, actor, actor_role, action, entity_type, entity_id, before, after,
      request_id, recorded_at`,
    where: `entity_type = 'specimen'`,
  },
] as const;

export interface CeilingResult {
  /** seconds of each table's COPY, as psql's \timing reports it */
  tables: { name: string; rows: number; seconds: number }[];
  /** all of them, wall time of the psql run (emptying the tables included) */
  wallSeconds: number;
}

export function psql(url: string, args: string[]): string {
  const r = spawnSync('psql', [url, '-X', '-v', 'ON_ERROR_STOP=1', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout;
}

/** Each COPY of a psql run with \\timing on: its row count and server round trip in seconds. */
export function copyTimings(out: string): { rows: number; seconds: number }[] {
  return [...out.matchAll(/^COPY (\d+)\nTime: ([\d.]+) ms/gm)].map((m) => ({
    rows: Number(m[1]),
    seconds: Number(m[2]) / 1e3,
  }));
}

export function ceilingCopy(url: string, dir: string): CeilingResult {
  const file = (name: string) => join(dir, `ceiling-${name}.csv`);
  const cols = (c: string) => (c === '*' ? '' : `(${c.replace(/\s+/g, ' ')})`);
  for (const t of TABLES) {
    const select = `select ${t.columns === '*' ? '*' : t.columns} from ${t.name} where ${t.where}`;
    const order = t.name === 'custody_event' || t.name === 'audit_log' ? ' order by id' : '';
    psql(url, [
      '-qc',
      `\\copy (${select.replace(/\s+/g, ' ')}${order}) to '${file(t.name)}' with (format csv)`,
    ]);
  }
  // Each -c is one command of the same session: a meta-command needs its own.
  const commands = [
    '\\timing on',
    'begin',
    'alter table custody_event disable trigger custody_event_no_truncate',
    'alter table audit_log disable trigger audit_log_no_truncate',
    'truncate specimen, specimen_external_id, custody_event, audit_log cascade',
    ...TABLES.map((t) => `\\copy ${t.name} ${cols(t.columns)} from '${file(t.name)}' with (format csv)`),
    'rollback',
  ];
  const started = process.hrtime.bigint();
  const out = psql(url, [...commands.flatMap((c) => ['-c', c])]);
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const copies = copyTimings(out);
  return {
    tables: TABLES.map((t, i) => ({
      name: t.name,
      rows: copies[i]?.rows ?? NaN,
      seconds: copies[i]?.seconds ?? NaN,
    })),
    wallSeconds,
  };
}
