import type pg from 'pg';
import { percentile } from './stats.js';

// `npm run bench -- fhir-search`: GET /fhir/R4/Specimen searches, a page of 100 each, over the
// seeded institution (1,000,000 specimens by default), against the real service (started by
// bench/run.ts). Read-only: the searches change nothing.
//
// Kinds of search, taking turns in each round and reported apart (samples drawn at random from the
// seeded data):
//   walk          _count=100, following next links from the first page on (one walk per lane)
//   type          type=<HL7 v2 0487 code or ours>, first page; common and rare types
//   lastUpdated   _lastUpdated=ge<random instant>, or a 30-day window (ge .. lt), first page
//   type+updated  a type within a 30-day window
//   identifier    identifier=<LIS id> or <barcode>: one specimen (not a page of 100; shown apart)
// The target is p95 <= 50 ms for the page-of-100 kinds together.

export interface FhirSearchBench {
  pool: pg.Pool;
  /** absolute FHIR base, e.g. http://127.0.0.1:3000/fhir/R4 */
  base: string;
  token: string;
  institutionId: string;
  /** measured rounds (one request of each kind per round) */
  requests: number;
  /** unmeasured rounds, first */
  warmup: number;
  concurrency: number;
  /** machine CPU busy share over the measured run, when known */
  machineBusy?: () => () => number | null;
  /** starts a CPU count of the server process and its database backends; the result is in ms */
  cpu?: () => Promise<() => Promise<{ serverMs: number | null; postgresMs: number | null }>>;
}

interface Bundle {
  resourceType: string;
  entry?: unknown[];
  link: { relation: string; url: string }[];
}

const TYPES = [
  { code: 'PLAS', label: 'plasma (34 %)' },
  { code: 'SER', label: 'serum (20 %)' },
  { code: 'dna', label: 'DNA (7 %)' },
  { code: 'MAR', label: 'bone marrow (0.3 %)' },
  { code: 'SAL', label: 'saliva (0.1 %)' },
];

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const f1 = (v: number) => v.toFixed(1);

export async function fhirSearchBench(b: FhirSearchBench): Promise<boolean> {
  const { rows: range } = await b.pool.query<{ min: Date; max: Date }>(
    'select min(updated_at) as min, max(updated_at) as max from specimen where institution_id = $1',
    [b.institutionId],
  );
  const from = range[0]!.min.getTime();
  const to = range[0]!.max.getTime();
  const { rows: barcodes } = await b.pool.query<{ barcode: string }>(
    'select barcode from specimen where institution_id = $1 order by random() limit 2000',
    [b.institutionId],
  );
  const { rows: external } = await b.pool.query<{ system: string; value: string }>(
    'select system, value from specimen_external_id where institution_id = $1 order by random() limit 2000',
    [b.institutionId],
  );
  const instant = () => new Date(from + Math.random() * (to - from));
  const window = () => {
    const start = instant();
    return `_lastUpdated=ge${start.toISOString()}&_lastUpdated=lt${new Date(start.getTime() + 30 * 86_400_000).toISOString()}`;
  };
  const fhirSystem = (s: string) =>
    /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(s)
      ? s
      : `https://biobank.dev/fhir/sid/external/${encodeURIComponent(s)}`;

  const page = `${b.base}/Specimen?_count=100`;
  /** Each kind's next URL; a walk goes on from the next link of its previous page instead. */
  const kinds: { name: string; page: boolean; url: () => string }[] = [
    { name: 'walk', page: true, url: () => page },
    { name: 'type', page: true, url: () => `${page}&type=${pick(TYPES).code}` },
    {
      name: 'lastUpdated',
      page: true,
      url: () => `${page}&${Math.random() < 0.5 ? `_lastUpdated=ge${instant().toISOString()}` : window()}`,
    },
    { name: 'type+updated', page: true, url: () => `${page}&type=${pick(TYPES).code}&${window()}` },
    {
      name: 'identifier',
      page: false,
      url: () => {
        const e = pick(external);
        const token =
          Math.random() < 0.5 && e
            ? `${fhirSystem(e.system)}|${e.value}`
            : `https://biobank.dev/fhir/sid/barcode|${pick(barcodes).barcode}`;
        return `${b.base}/Specimen?identifier=${encodeURIComponent(token)}`;
      },
    },
  ];

  let failures = 0;
  async function one(url: string): Promise<{ ms: number; body: Bundle }> {
    const t0 = performance.now();
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${b.token}`, accept: 'application/fhir+json' },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as Bundle;
    const ms = performance.now() - t0;
    if (res.status !== 200 || body.resourceType !== 'Bundle') {
      if (++failures === 1)
        console.log(`  unexpected answer ${res.status}: ${JSON.stringify(body).slice(0, 400)}`);
      if (failures > 5) throw new Error('searches fail; stopping');
    }
    return { ms, body };
  }

  console.log(
    `\nFHIR search: ${b.warmup} warm-up + ${b.requests} measured rounds of one request per kind, concurrency ${b.concurrency}`,
  );
  console.log('  kind            requests  entries/page   p50 ms   p95 ms   p99 ms   max ms');
  const pageLatencies: number[] = [];
  // Kinds take turns within each round, so a change in the machine's load hits them all alike.
  const latencies = new Map(kinds.map((k) => [k.name, [] as number[]]));
  const entries = new Map(kinds.map((k) => [k.name, 0]));
  const lane = async (rounds: number, record: boolean) => {
    let walkNext: string | undefined;
    for (let i = 0; i < rounds; i++)
      for (const kind of kinds) {
        const url = kind.name === 'walk' ? (walkNext ?? kind.url()) : kind.url();
        const { ms, body } = await one(url);
        if (kind.name === 'walk') walkNext = body.link.find((l) => l.relation === 'next')?.url;
        if (record) {
          latencies.get(kind.name)!.push(ms);
          entries.set(kind.name, entries.get(kind.name)! + (body.entry?.length ?? 0));
        }
      }
  };
  const lanes = (n: number) =>
    Array.from({ length: b.concurrency }, (_, i) => Math.ceil((n - i) / b.concurrency));
  await Promise.all(lanes(b.warmup).map((n) => lane(n, false)));
  const busyAt = b.machineBusy ? b.machineBusy() : null;
  await Promise.all(lanes(b.requests).map((n) => lane(n, true)));
  for (const kind of kinds) {
    const sorted = Float64Array.from(latencies.get(kind.name)!).sort();
    if (kind.page) pageLatencies.push(...sorted);
    console.log(
      `  ${kind.name.padEnd(14)} ${String(sorted.length).padStart(9)} ${f1(entries.get(kind.name)! / Math.max(1, sorted.length)).padStart(13)}` +
        ` ${f1(percentile(sorted, 50)).padStart(8)} ${f1(percentile(sorted, 95)).padStart(8)}` +
        ` ${f1(percentile(sorted, 99)).padStart(8)} ${f1(sorted[sorted.length - 1] ?? 0).padStart(8)}`,
    );
  }
  if (b.cpu) {
    // CPU moves much less than latency with the machine's load: each kind apart, one at a time.
    console.log('\n  CPU per request, each kind run apart (50 requests): server ms, postgres ms');
    for (const kind of kinds) {
      let walkNext: string | undefined;
      const stop = await b.cpu();
      for (let i = 0; i < 50; i++) {
        const { body } = await one(kind.name === 'walk' ? (walkNext ?? kind.url()) : kind.url());
        if (kind.name === 'walk') walkNext = body.link.find((l) => l.relation === 'next')?.url;
      }
      const used = await stop();
      const per = (ms: number | null) => (ms === null ? '?' : f1(ms / 50));
      console.log(
        `  ${kind.name.padEnd(14)} ${per(used.serverMs).padStart(8)} ${per(used.postgresMs).padStart(8)}`,
      );
    }
  }
  const all = Float64Array.from(pageLatencies).sort();
  const p95 = percentile(all, 95);
  const busy = busyAt?.();
  console.log(
    `\n  pages of up to 100 (walk, type, lastUpdated, type+updated): ${all.length} requests, p50 ${f1(percentile(all, 50))} ms,` +
      ` p95 ${f1(p95)} ms, p99 ${f1(percentile(all, 99))} ms; ${failures} failed` +
      (busy === null || busy === undefined ? '' : `; machine busy ${Math.round(busy)} %`),
  );
  const pass = p95 <= 50 && failures === 0;
  console.log(`  target p95 <= 50 ms: ${pass ? 'PASS' : 'MISS'}`);
  return pass;
}
