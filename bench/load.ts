import http from 'node:http';
import { readFileSync } from 'node:fs';
import { summarize, type LatencySummary } from './stats.js';

// Closed-loop HTTP load generator, run by bench/run.ts as a child process so it never shares an
// event loop with the server it measures. `connections` keep-alive connections each send one GET
// at a time (random barcode from the file) for `warmupSeconds`, then for `durationSeconds` while
// latencies are recorded. Stops by itself; prints JSON lines on stdout:
//   {"event":"measure-start"} when the measured window opens, then {"event":"result", ...}.

export interface LoadSpec {
  host: string;
  port: number;
  /** path prefix; a URL-encoded barcode is appended */
  pathPrefix: string;
  barcodesFile: string;
  headers: Record<string, string>;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

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

async function main() {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const barcodes = readFileSync(spec.barcodesFile, 'utf8').split('\n').filter(Boolean);
  if (barcodes.length === 0) throw new Error('no barcodes');
  const paths = barcodes.map((b) => spec.pathPrefix + encodeURIComponent(b));
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: spec.connections,
    maxFreeSockets: spec.connections,
  });

  let measuring = false;
  let stopping = false;
  const latencies: number[] = [];
  let non200 = 0;
  let errors = 0;

  const once = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { agent, host: spec.host, port: spec.port, path, method: 'GET', headers: spec.headers },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

  const loop = async () => {
    while (!stopping) {
      const path = paths[Math.floor(Math.random() * paths.length)]!;
      const t0 = process.hrtime.bigint();
      let status = 0;
      try {
        status = await once(path);
      } catch {
        if (measuring) errors++;
        continue;
      }
      if (!measuring) continue;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status !== 200) non200++;
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
  agent.destroy();

  const summary = summarize(latencies);
  const result: LoadResult = {
    event: 'result',
    ...summary,
    seconds,
    rps: summary.count / seconds,
    non200,
    errors,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, summary.count),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
