import http from 'node:http';
import { readFileSync } from 'node:fs';
import { keepAliveAgent, runClosedLoop, runGenerator } from './closed-loop.js';

// Closed-loop HTTP load generator, run by bench/run.ts as a child process so it never shares an
// event loop with the server it measures. `connections` keep-alive connections each send one GET
// at a time (random barcode from the file) for `warmupSeconds`, then for `durationSeconds` while
// latencies are recorded (bench/closed-loop.ts). Stops by itself; prints JSON lines on stdout:
//   {"event":"measure-start"} when the measured window opens, then {"event":"result", ...}.

export type { LoadResult } from './closed-loop.js';

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

async function main() {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const barcodes = readFileSync(spec.barcodesFile, 'utf8').split('\n').filter(Boolean);
  if (barcodes.length === 0) throw new Error('no barcodes');
  const paths = barcodes.map((b) => spec.pathPrefix + encodeURIComponent(b));
  const agent = keepAliveAgent(spec.connections);

  const send = () =>
    new Promise<boolean>((resolve, reject) => {
      const path = paths[Math.floor(Math.random() * paths.length)]!;
      const req = http.request(
        { agent, host: spec.host, port: spec.port, path, method: 'GET', headers: spec.headers },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(res.statusCode === 200));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

  const result = await runClosedLoop(spec, send);
  agent.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

runGenerator('load', main);
