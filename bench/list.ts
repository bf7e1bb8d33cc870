import type pg from 'pg';
import type { Container } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { percentile, summarize } from './stats.js';

// `npm run bench -- list`: GET /v1/specimens, a page of 100, for each documented filter over the
// seeded institution, one request at a time, the kinds taking turns in each round. The seed holds
// only available, unchecked, unheld tubes, so the run first makes a sparse set of each through the
// ledger (--sparse tubes on hold, missing, and with a failed QC status; kept for later runs):
// writes, so give it a copy of the bench database. Target: p95 <= 50 ms for every kind.

export interface ListBench {
  c: Container;
  ctx: Ctx;
  pool: pg.Pool;
  base: string;
  token: string;
  institutionId: string;
  sparse: number;
  rounds: number;
}

interface Kind {
  name: string;
  /** query string of the next request */
  next: () => string;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const cursorAfter = (id: string) => Buffer.from(JSON.stringify(id)).toString('base64url');
const f1 = (v: number) => v.toFixed(1);

/** Marks `n` random available tubes of the institution with `mark` unless as many carry it already. */
async function ensureSparse(b: ListBench, already: string, mark: (ids: string[]) => Promise<void>) {
  const { rows } = await b.pool.query<{ n: number }>(
    `select count(*)::int as n from specimen s where s.institution_id = $1 and ${already}`,
    [b.institutionId],
  );
  const missing = b.sparse - rows[0]!.n;
  if (missing <= 0) return rows[0]!.n;
  const { rows: picked } = await b.pool.query<{ id: string }>(
    `select id from specimen s
      where s.institution_id = $1 and s.status = 'available' and s.holds = '{}' and s.qc_status = 'unchecked'
      order by random() limit $2`,
    [b.institutionId, missing],
  );
  await mark(picked.map((p) => p.id));
  return b.sparse;
}

export async function listBench(b: ListBench): Promise<boolean> {
  const svc = b.c.services.specimens;
  const made = {
    held: await ensureSparse(b, `s.holds <> '{}'`, async (ids) => {
      for (const id of ids) await svc.placeHold(b.ctx, id, { reason: 'QUARANTINE' });
    }),
    missing: await ensureSparse(b, `s.status = 'missing'`, async (ids) => {
      for (const id of ids) await svc.markSpecimenMissing(b.ctx, id, { reason: 'list benchmark' });
    }),
    qcFail: await ensureSparse(b, `s.qc_status = 'fail'`, async (ids) => {
      const { rows } = await b.pool.query<{ id: string; version: number }>(
        'select id, version from specimen where id = any($1::uuid[])',
        [ids],
      );
      await b.c.database.db.transaction((tx) =>
        b.c.services.ledger.recordQcStatus(
          tx,
          rows.map((r) => ({ id: r.id, version: r.version, qcStatus: 'fail' })),
        ),
      );
    }),
  };
  await b.pool.query('analyze specimen');
  console.log(`sparse sets: ${made.held} held, ${made.missing} missing, ${made.qcFail} with QC failed`);

  const q = (sql: string, params: unknown[] = []) => b.pool.query(sql, [b.institutionId, ...params]);
  const freezers = (
    await q(`select id from container where institution_id = $1 and kind = 'freezer' order by id`)
  ).rows.map((r: { id: string }) => r.id);
  // Past the last match: a cursor at the subtree's highest specimen id.
  const lastInFreezer = new Map<string, string>();
  for (const f of freezers) {
    const { rows } = await q(
      `select max(s.id::text) as id from specimen s join container c on c.id = s.container_id
        where s.institution_id = $1 and (c.id = $2 or c.ancestor_ids @> array[$2::uuid])`,
      [f],
    );
    const id = (rows[0] as { id: string | null }).id;
    if (id) lastInFreezer.set(f, id);
  }
  const participants = (
    await q(`select participant_id as id from specimen where institution_id = $1 and participant_id is not null
              order by random() limit 500`)
  ).rows.map((r: { id: string }) => r.id);
  const protocols = (
    await q(
      `select distinct protocol_id as id from specimen where institution_id = $1 and protocol_id is not null`,
    )
  ).rows.map((r: { id: string }) => r.id);
  const { rows: span } = await q(
    'select min(collected_at) as min, max(collected_at) as max from specimen where institution_id = $1',
  );
  const from = (span[0] as { min: Date }).min.getTime();
  const to = (span[0] as { max: Date }).max.getTime();
  const week = 7 * 86_400_000;
  const withLast = [...lastInFreezer.keys()];

  const kinds: Kind[] = [
    { name: 'no filter', next: () => '' },
    { name: 'type (plasma, 34 %)', next: () => 'type=plasma' },
    { name: 'type (saliva, 0.1 %)', next: () => 'type=saliva' },
    { name: 'held=true', next: () => 'held=true' },
    { name: 'held=false', next: () => 'held=false' },
    { name: 'qcStatus=fail', next: () => 'qcStatus=fail' },
    { name: 'status=missing', next: () => 'status=missing' },
    { name: 'protocolId', next: () => `protocolId=${pick(protocols)}` },
    { name: 'participantId', next: () => `participantId=${pick(participants)}` },
    {
      name: 'collected in a week',
      next: () => {
        const start = from + Math.random() * (to - from - week);
        return `collectedFrom=${new Date(start).toISOString()}&collectedTo=${new Date(start + week).toISOString()}`;
      },
    },
    { name: 'freezer subtree', next: () => `containerId=${pick(freezers)}` },
    {
      name: 'freezer, past last match',
      next: () => {
        const f = pick(withLast);
        return `containerId=${f}&cursor=${cursorAfter(lastInFreezer.get(f)!)}`;
      },
    },
    { name: 'empty (destroyed)', next: () => 'status=destroyed' },
    { name: 'empty (saliva held)', next: () => 'type=saliva&held=true' },
  ];

  const request = async (qs: string) => {
    const t0 = performance.now();
    const res = await fetch(`${b.base}/v1/specimens?limit=100${qs ? `&${qs}` : ''}`, {
      headers: { authorization: `Bearer ${b.token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { items?: unknown[] };
    const ms = performance.now() - t0;
    if (res.status !== 200 || !Array.isArray(body.items))
      throw new Error(`${qs}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    return { ms, items: body.items.length };
  };

  const times = new Map<string, number[]>(kinds.map((k) => [k.name, []]));
  const found = new Map<string, number>(kinds.map((k) => [k.name, 0]));
  for (let i = 0; i < 3; i++) for (const k of kinds) await request(k.next());
  for (let i = 0; i < b.rounds; i++)
    for (const k of kinds) {
      const r = await request(k.next());
      times.get(k.name)!.push(r.ms);
      found.set(k.name, found.get(k.name)! + r.items);
    }

  console.log(`\nGET /v1/specimens?limit=100, ${b.rounds} rounds, one request at a time`);
  console.log('  filter                      items/page   p50 ms   p95 ms   max ms');
  let pass = true;
  for (const k of kinds) {
    const t = times.get(k.name)!;
    const s = summarize(t);
    const p95 = percentile(Float64Array.from(t).sort(), 95);
    if (p95 > 50) pass = false;
    console.log(
      `  ${k.name.padEnd(27)} ${f1(found.get(k.name)! / b.rounds).padStart(10)} ${f1(s.p50).padStart(8)} ` +
        `${f1(p95).padStart(8)} ${f1(s.max).padStart(8)}${p95 > 50 ? '  MISS' : ''}`,
    );
  }
  console.log(`  target p95 <= 50 ms for every filter: ${pass ? 'PASS' : 'MISS'}`);
  return pass;
}
