import http from 'node:http';
import { summarize, type LatencySummary } from './stats.js';

// The closed loop both load generators run (bench/load.ts: scan lookups, bench/graphql-load.ts:
// GraphQL pages): `connections` loops each send one request at a time for `warmupSeconds`, then
// for `durationSeconds` while latencies are recorded. Prints {"event":"measure-start"} on stdout
// when the measured window opens; the caller prints the result.

export interface LoadResult extends LatencySummary {
  event: 'result';
  seconds: number;
  rps: number;
  /** responses other than 200, and transport errors, in the measured window */
  non200: number;
  errors: number;
  /** CPU time this generator used per measured request, microseconds */
  cpuMicrosPerRequest: number;
}

export interface ClosedLoopSpec {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

/** A keep-alive agent with one socket per loop. */
export const keepAliveAgent = (connections: number) =>
  new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

/** Runs the loops; `send` makes one request and tells whether its answer was good. */
export async function runClosedLoop(spec: ClosedLoopSpec, send: () => Promise<boolean>): Promise<LoadResult> {
  let measuring = false;
  let stopping = false;
  const latencies: number[] = [];
  let non200 = 0;
  let errors = 0;

  const loop = async () => {
    while (!stopping) {
      const t0 = process.hrtime.bigint();
      let good = false;
      try {
        good = await send();
      } catch {
        if (measuring) errors++;
        continue;
      }
      if (!measuring) continue;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!good) non200++;
    }
  };

  const loops = Array.from({ length: spec.connections }, () => loop());
  await new Promise((r) => setTimeout(r, spec.warmupSeconds * 1000));
  process.stdout.write(JSON.stringify({ event: 'measure-start' }) + '\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, spec.durationSeconds * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  stopping = true;
  await Promise.all(loops);

  const summary = summarize(latencies);
  return {
    event: 'result',
    ...summary,
    seconds,
    rps: summary.count / seconds,
    non200,
    errors,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, summary.count),
  };
}

/** Runs a generator's main, exiting 0, or 1 with the error on stderr. */
export function runGenerator(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
