import http from 'node:http';
import { readFileSync } from 'node:fs';
import { summarize } from './stats.js';
import type { LoadResult } from './load.js';

// Closed-loop GraphQL load generator for bench/graphql-page.ts, run as a child process so it never
// shares an event loop with the servers measured: `connections` keep-alive connections each POST
// one document at a time (a random body of the file, one JSON body a line) for `warmupSeconds`,
// then for `durationSeconds` while latencies are recorded. An answer counts as good only with
// status 200 and no `errors` member. Prints JSON lines on stdout, as bench/load.ts does:
//   {"event":"measure-start"} when the measured window opens, then {"event":"result", ...}.

export interface GraphqlLoadSpec {
  host: string;
  port: number;
  path: string;
  bodiesFile: string;
  headers: Record<string, string>;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

async function main() {
  const spec = JSON.parse(process.argv[2] ?? '') as GraphqlLoadSpec;
  const bodies = readFileSync(spec.bodiesFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((b) => Buffer.from(b));
  if (bodies.length === 0) throw new Error('no request bodies');
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: spec.connections,
    maxFreeSockets: spec.connections,
  });
  const errorsMember = Buffer.from('"errors"');

  let measuring = false;
  let stopping = false;
  const latencies: number[] = [];
  let non200 = 0;
  let errors = 0;
  let firstBad: string | null = null;

  const once = (body: Buffer) =>
    new Promise<boolean>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: spec.host,
          port: spec.port,
          path: spec.path,
          method: 'POST',
          headers: { ...spec.headers, 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const answer = Buffer.concat(chunks);
            const good = res.statusCode === 200 && answer.indexOf(errorsMember) === -1;
            if (!good && firstBad === null)
              firstBad = `${res.statusCode}: ${answer.toString().slice(0, 500)}`;
            resolve(good);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const loop = async () => {
    while (!stopping) {
      const body = bodies[Math.floor(Math.random() * bodies.length)]!;
      const t0 = process.hrtime.bigint();
      let good = false;
      try {
        good = await once(body);
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
  agent.destroy();

  const summary = summarize(latencies);
  const result: LoadResult & { firstBad: string | null } = {
    event: 'result',
    ...summary,
    seconds,
    rps: summary.count / seconds,
    non200,
    errors,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, summary.count),
    firstBad,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `graphql-load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
