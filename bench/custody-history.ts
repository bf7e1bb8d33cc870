import type pg from 'pg';
import type { Container } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { percentile, summarize } from './stats.js';

// `npm run bench -- custody-history`: does the length of a tube's custody history change what
// reading it costs? Two seeded 8 x 12 boxes of 96 tubes: one keeps its short seeded histories
// (about 2-3 events a tube), the other is given long ones by rack scans to an empty box and back
// (--history moves per tube; kept for later runs). Then, rounds alternating short and long:
//   graphql-page  specimens(filter: { containerId }, first: 96) with each tube's latest custody
//                 event, through the real service
//   check         the standardization check of the 96 tubes after a rack scan moved them (one new
//                 event each), as the worker runs it (checkSpecimens, in this process); its first
//                 round verifies each chain whole (no verified head yet) and is reported apart
// Target: long / short <= 1.2x for each. Writes: use a copy of the bench database.

export interface CustodyHistoryBench {
  c: Container;
  ctx: Ctx;
  pool: pg.Pool;
  base: string;
  token: string;
  institutionId: string;
  history: number;
  rounds: number;
}

interface Pair {
  label: 'short' | 'long';
  home: string;
  away: string;
  ids: string[];
  readings: { position: string; barcode: string }[];
  /** where the tubes are now */
  at: 'home' | 'away';
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

/** The full 8 x 12 box with the longest histories (a previous run's long box) and the one with the shortest. */
async function fullBoxes(pool: pg.Pool, institutionId: string) {
  const pickBox = async (order: 'asc' | 'desc') => {
    const { rows } = await pool.query<{ id: string }>(
      `select b.id from container b
        where b.institution_id = $1 and b.kind = 'box' and b.grid_rows = 8 and b.grid_cols = 12
          and (select count(*) from specimen s where s.container_id = b.id and s.status = 'available') = 96
        order by (select avg(s.custody_seq) from specimen s where s.container_id = b.id) ${order}, b.barcode
        limit 1`,
      [institutionId],
    );
    if (!rows[0]) throw new Error('needs two full 8 x 12 boxes; seed more');
    return rows[0];
  };
  return [await pickBox('desc'), await pickBox('asc')] as const;
}

export async function custodyHistoryBench(b: CustodyHistoryBench): Promise<boolean> {
  const storage = b.c.services.storage;
  const stamp = Date.now().toString(36).toUpperCase();
  const freezer = await storage.createContainer(b.ctx, {
    kind: 'freezer',
    barcode: `BENCH-CH-FZ-${stamp}`,
    name: `BENCH-CH-FZ-${stamp} (custody-history benchmark)`,
    temperatureC: -80,
    grid: { rows: 1, cols: 1, scheme: 'alphanumeric', fillOrder: 'row_major' },
  });
  const rack = await storage.createContainer(b.ctx, {
    kind: 'rack',
    barcode: `BENCH-CH-R-${stamp}`,
    parentId: freezer.container.id,
    slot: 'A1',
    grid: { rows: 1, cols: 2, scheme: 'alphanumeric', fillOrder: 'row_major' },
  });
  const [longBox, shortBox] = await fullBoxes(b.pool, b.institutionId);
  const pairs: Pair[] = [];
  for (const [i, [label, home]] of (
    [
      ['long', longBox.id],
      ['short', shortBox.id],
    ] as const
  ).entries()) {
    const away = await storage.createContainer(b.ctx, {
      kind: 'box',
      barcode: `BENCH-CH-BX-${stamp}-${i + 1}`,
      parentId: rack.container.id,
      slot: `A${i + 1}`,
      grid: { rows: 8, cols: 12, scheme: 'alphanumeric', fillOrder: 'row_major' },
    });
    const tubes = await b.pool.query<{
      id: string;
      barcode: string;
      position_row: number;
      position_col: number;
    }>('select id, barcode, position_row, position_col from specimen where container_id = $1 order by id', [
      home,
    ]);
    pairs.push({
      label,
      home,
      away: away.container.id,
      ids: tubes.rows.map((t) => t.id),
      readings: tubes.rows.map((t) => ({
        position: `${String.fromCharCode(64 + t.position_row)}${t.position_col}`,
        barcode: t.barcode,
      })),
      at: 'home',
    });
  }
  const [long, short] = pairs as [Pair, Pair];

  const scan = async (p: Pair) => {
    const target = p.at === 'home' ? p.away : p.home;
    const res = await fetch(`${b.base}/v1/containers/${target}/rack-scan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ readings: p.readings, apply: true }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { applied?: boolean; movedIn?: unknown[] };
    if (res.status !== 200 || !body.applied || body.movedIn?.length !== 96)
      throw new Error(`rack scan failed ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    p.at = p.at === 'home' ? 'away' : 'home';
  };

  const seqs = async (p: Pair) => {
    const { rows } = await b.pool.query<{ min: number; avg: number; max: number }>(
      'select min(custody_seq) as min, avg(custody_seq)::float8 as avg, max(custody_seq) as max from specimen where id = any($1::uuid[])',
      [p.ids],
    );
    return rows[0]!;
  };
  const have = await seqs(long);
  // An even number of moves brings the tubes home.
  const moves = Math.max(0, Math.ceil((b.history - have.min) / 2) * 2);
  if (moves > 0) {
    console.log(`giving the long box ${moves} more moves per tube (${moves} rack scans)...`);
    const t0 = performance.now();
    for (let i = 0; i < moves; i++) await scan(long);
    console.log(`  done in ${f1((performance.now() - t0) / 1000)} s`);
  }
  for (const p of pairs) {
    const s = await seqs(p);
    console.log(
      `  ${p.label.padEnd(5)} box: custody events per tube min ${s.min}, mean ${f1(s.avg)}, max ${s.max}`,
    );
  }

  // GraphQL page of each box, alternated.
  const query = `query($c: ID!) { specimens(filter: { containerId: $c }, first: 96) {
    edges { node { id barcode latestCustodyEvent { seq type hash occurredAt } } } } }`;
  const page = async (p: Pair) => {
    const t0 = performance.now();
    const res = await fetch(`${b.base}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables: { c: p.at === 'home' ? p.home : p.away } }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as {
      data?: { specimens: { edges: { node: { latestCustodyEvent: { seq: number } | null } }[] } };
      errors?: unknown;
    };
    const ms = performance.now() - t0;
    const edges = body.data?.specimens.edges ?? [];
    if (edges.length !== 96 || edges.some((e) => !e.node.latestCustodyEvent))
      throw new Error(`GraphQL page: ${JSON.stringify(body).slice(0, 300)}`);
    return ms;
  };
  const pageTimes = { short: [] as number[], long: [] as number[] };
  for (let i = 0; i < 10; i++) for (const p of pairs) await page(p);
  for (let i = 0; i < b.rounds; i++)
    for (const p of i % 2 ? [short, long] : [long, short]) pageTimes[p.label].push(await page(p));

  // The check after each rack scan, as the worker runs it.
  const checkTimes = { short: [] as number[], long: [] as number[] };
  const firstCheck = { short: 0, long: 0 };
  const checkRounds = Math.max(2, Math.ceil(b.rounds / 5));
  for (let i = 0; i <= checkRounds; i++)
    for (const p of i % 2 ? [short, long] : [long, short]) {
      await scan(p);
      const t0 = performance.now();
      const r = await b.c.services.standards.checkSpecimens(b.ctx, p.ids);
      const ms = performance.now() - t0;
      if (r.checked !== 96) throw new Error(`${p.label}: ${r.checked} checked`);
      if (i === 0) firstCheck[p.label] = ms;
      else checkTimes[p.label].push(ms);
    }
  // Leave the tubes home for the next run.
  for (const p of pairs) if (p.at === 'away') await scan(p);

  const summary = (times: number[]) => ({
    ...summarize(times),
    p95: percentile(Float64Array.from(times).sort(), 95),
  });
  const line = (name: string, s: ReturnType<typeof summary>) =>
    `  ${name.padEnd(22)} p50 ${f1(s.p50).padStart(7)} ms  p95 ${f1(s.p95).padStart(7)} ms  max ${f1(s.max).padStart(7)} ms`;
  let pass = true;
  const report = (title: string, times: { short: number[]; long: number[] }) => {
    const s = summary(times.short);
    const l = summary(times.long);
    const ratio = l.p50 / s.p50;
    console.log(`\n${title} (${s.count} + ${l.count} alternated)`);
    console.log(line('short histories', s));
    console.log(line('long histories', l));
    console.log(`  long / short: p50 ${f2(ratio)}x, p95 ${f2(l.p95 / s.p95)}x (target <= 1.2x)`);
    if (ratio > 1.2) pass = false;
  };
  report('GraphQL page of 96 tubes with their latest custody event', pageTimes);
  report('standardization check of 96 tubes after a rack scan', checkTimes);
  console.log(
    `  first check of each box (chains verified whole, no verified head yet): short ${f1(firstCheck.short)} ms, long ${f1(firstCheck.long)} ms`,
  );
  console.log(`  ${pass ? 'PASS' : 'MISS'}`);
  return pass;
}
