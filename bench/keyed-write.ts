import type pg from 'pg';
import { summarize } from './stats.js';

// `npm run bench -- keyed-write`: the cost of an Idempotency-Key on a write. N clients (default
// 4) each put a quarantine hold on one tube of their own and release it again (POST
// /v1/specimens/{id}/place-hold and release-hold, a manager's key), one action per request, in
// timed phases that alternate between requests without a key and requests with a fresh key
// each (the key is claimed and the answer stored in the write's transaction). Every request is a
// real ledger write (custody event, audit row, specimen update): give it a copy of the bench
// database. Target: keyed throughput >= 0.9x of unkeyed.

export interface KeyedWriteBench {
  pool: pg.Pool;
  base: string;
  /** a manager's key: holds are a manager's action */
  token: string;
  institutionId: string;
  clients: number;
  warmupSeconds: number;
  seconds: number;
  rounds: number;
  /**
   * Starts a CPU window over the service and the database's backends; its result ends it, with
   * the milliseconds each spent (CPU per write moves less than throughput on a shared host).
   */
  cpuWindow: () => Promise<() => Promise<{ serverMs: number | null; postgresMs: number | null }>>;
}

interface Phase {
  keyed: boolean;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** milliseconds of CPU per write: service, PostgreSQL */
  serverCpu: number;
  postgresCpu: number;
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

const median = (values: number[]) => {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? (v[Math.floor((v.length - 1) / 2)]! + v[Math.ceil((v.length - 1) / 2)]!) / 2 : NaN;
};

export async function keyedWriteBench(b: KeyedWriteBench): Promise<boolean> {
  const { rows } = await b.pool.query<{ id: string }>(
    `select id from specimen
      where institution_id = $1 and status = 'available' and holds = '{}'
      order by random() limit $2`,
    [b.institutionId, b.clients],
  );
  if (rows.length < b.clients) throw new Error('not enough available tubes without holds');
  // Each client's tube and whether it is held now: the next action is the other one.
  const tubes = rows.map((r) => ({ id: r.id, held: false }));
  let serial = 0;
  const act = async (tube: (typeof tubes)[number], keyed: boolean) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${b.token}`,
      'content-type': 'application/json',
    };
    if (keyed) headers['idempotency-key'] = `bench-${process.pid}-${Date.now()}-${++serial}`;
    const res = await fetch(
      `${b.base}/v1/specimens/${tube.id}/${tube.held ? 'release-hold' : 'place-hold'}`,
      {
        method: 'POST',
        headers,
        body: JSON.stringify({ reason: 'QUARANTINE' }),
        signal: AbortSignal.timeout(30_000),
      },
    );
    const text = await res.text();
    if (res.status !== 200) return { ok: false, detail: `${res.status} ${text.slice(0, 300)}` };
    tube.held = !tube.held;
    return { ok: true, detail: '' };
  };

  const run = async (keyed: boolean, seconds: number): Promise<Phase> => {
    const latencies: number[] = [];
    let failed = 0;
    const end = performance.now() + seconds * 1000;
    const window = await b.cpuWindow();
    const t0 = performance.now();
    await Promise.all(
      tubes.map(async (tube) => {
        while (performance.now() < end) {
          const s = performance.now();
          const r = await act(tube, keyed);
          if (!r.ok) {
            failed++;
            if (failed === 1) console.log(`  unexpected answer: ${r.detail}`);
            if (failed > 20) throw new Error('writes fail; stopping');
          } else latencies.push(performance.now() - s);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = await window();
    const s = summarize(latencies);
    const perWrite = (ms: number | null) => (ms === null || s.count === 0 ? NaN : ms / s.count);
    return {
      keyed,
      rps: s.count / elapsed,
      p50: s.p50,
      p99: s.p99,
      failed,
      serverCpu: perWrite(cpu.serverMs),
      postgresCpu: perWrite(cpu.postgresMs),
    };
  };

  console.log(
    `\nkeyed vs unkeyed writes: ${b.clients} clients, place-hold / release-hold of one tube each, ` +
      `${b.warmupSeconds} s warm-up, then ${b.rounds} round(s) of ${b.seconds} s unkeyed + ${b.seconds} s keyed (order alternated)`,
  );
  try {
    await run(false, b.warmupSeconds);
    await run(true, Math.min(b.warmupSeconds, 2));
    const ratios: number[] = [];
    const phases: Phase[] = [];
    for (let r = 1; r <= b.rounds; r++) {
      const order = r % 2 === 1 ? [false, true] : [true, false];
      const pair: Phase[] = [];
      for (const keyed of order) {
        const p = await run(keyed, b.seconds);
        pair.push(p);
        phases.push(p);
        console.log(
          `  round ${r} ${keyed ? 'keyed  ' : 'unkeyed'} ${f1(p.rps).padStart(7)} writes/s  p50 ${f2(p.p50)} ms  p99 ${f2(p.p99)} ms` +
            `  CPU/write server ${f2(p.serverCpu)} ms, postgres ${f2(p.postgresCpu)} ms  failed ${p.failed}`,
        );
      }
      const k = pair.find((p) => p.keyed)!;
      const u = pair.find((p) => !p.keyed)!;
      ratios.push(k.rps / u.rps);
    }
    const of = (keyed: boolean) => phases.filter((p) => p.keyed === keyed);
    for (const keyed of [false, true]) {
      const ps = of(keyed);
      console.log(
        `  median ${keyed ? 'keyed  ' : 'unkeyed'} ${f1(median(ps.map((p) => p.rps))).padStart(7)} writes/s` +
          `  p50 ${f2(median(ps.map((p) => p.p50)))} ms  p99 ${f2(median(ps.map((p) => p.p99)))} ms` +
          `  CPU/write server ${f2(median(ps.map((p) => p.serverCpu)))} ms, postgres ${f2(median(ps.map((p) => p.postgresCpu)))} ms`,
      );
    }
    const ratio = median(ratios);
    console.log(`  keyed / unkeyed throughput (median of paired rounds): ${f2(ratio)}x (target >= 0.90)`);
    console.log(`  ${ratio >= 0.9 ? 'PASS' : 'MISS'}`);
    return ratio >= 0.9;
  } finally {
    // Leave every tube where it was found.
    for (const tube of tubes) if (tube.held) await act(tube, false);
  }
}
