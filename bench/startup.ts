// `npx tsx bench/startup.ts [--rounds N]`: start-up time of the compiled server (`node
// dist/main.js serve`, what production runs) against the TypeScript sources through tsx, from
// spawn to the first 200 on /health/live, alternated so the machine's load hits both alike.
// Builds dist/ first. Uses DATABASE_URL and REDIS_URL (migrated database expected), WORKERS=0.
import { execFileSync, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freePort, sleep } from '../test/helpers/server-process.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

async function startOnce(args: string[]): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...args, 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', WORKERS: '0', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await sleep(10);
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);
const kinds = { compiled: ['dist/main.js'], tsx: ['--import', 'tsx', 'src/main.ts'] };
const times: Record<keyof typeof kinds, number[]> = { compiled: [], tsx: [] };
for (let r = 0; r < rounds; r++) {
  for (const kind of Object.keys(kinds) as (keyof typeof kinds)[]) {
    const ms = await startOnce(kinds[kind]);
    times[kind].push(ms);
    console.log(`round ${r + 1} ${kind.padEnd(8)} ${ms.toFixed(0)} ms`);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const kind of Object.keys(times) as (keyof typeof kinds)[])
  console.log(`${kind.padEnd(8)} median ${median(times[kind]).toFixed(0)} ms (of ${rounds})`);
