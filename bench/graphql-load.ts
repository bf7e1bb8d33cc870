import http from 'node:http';
import { readFileSync } from 'node:fs';
import { keepAliveAgent, runClosedLoop, runGenerator, type LoadResult } from './closed-loop.js';

// Closed-loop GraphQL load generator for bench/graphql-page.ts, run as a child process so it never
// shares an event loop with the servers measured: `connections` keep-alive connections each POST
// one document at a time (a random body of the file, one JSON body a line) for `warmupSeconds`,
// then for `durationSeconds` while latencies are recorded (bench/closed-loop.ts). An answer counts
// as good only with status 200 and no `errors` member. Prints JSON lines on stdout, as
// bench/load.ts does: {"event":"measure-start"} when the measured window opens, then
// {"event":"result", ...}.

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
  const agent = keepAliveAgent(spec.connections);
  const errorsMember = Buffer.from('"errors"');
  let firstBad: string | null = null;

  const send = () =>
    new Promise<boolean>((resolve, reject) => {
      const body = bodies[Math.floor(Math.random() * bodies.length)]!;
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

  const result: LoadResult & { firstBad: string | null } = { ...(await runClosedLoop(spec, send)), firstBad };
  agent.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

runGenerator('graphql-load', main);
