import { execFileSync, spawn } from 'node:child_process';
import { freePort, sleep } from '../test/helpers/server-process.js';

// `npm run bench -- startup [--rounds N]`: start-up time of the compiled server (`node
// dist/main.js serve`, what production runs) against the TypeScript sources through tsx (`node
// --import tsx src/main.ts serve`), from spawn to the first 200 on /health/live, alternated so the
// machine's load hits both alike; medians. Builds dist/ first. Uses DATABASE_URL and REDIS_URL
// (a migrated database), WORKERS=0, tracing off.

const KINDS = { compiled: ['dist/main.js'], tsx: ['--import', 'tsx', 'src/main.ts'] } as const;
type Kind = keyof typeof KINDS;

async function startOnce(args: readonly string[]): Promise<number> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKERS: '0',
    WEB_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  };
  const started = performance.now();
  const child = spawn(process.execPath, [...args, 'serve'], { env, stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) return performance.now() - started;
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 120_000) throw new Error(`${args.join(' ')} did not start in 120 s`);
      await sleep(10);
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

export async function startupBench(opts: { rounds: number }): Promise<void> {
  console.log('building dist/ (npm run build)');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);
  const times: Record<Kind, number[]> = { compiled: [], tsx: [] };
  for (let r = 0; r < opts.rounds; r++) {
    // Who goes first alternates too: the second start of a round finds the files in the page cache.
    const order: Kind[] = r % 2 === 0 ? ['compiled', 'tsx'] : ['tsx', 'compiled'];
    for (const kind of order) {
      const ms = await startOnce(KINDS[kind]);
      times[kind].push(ms);
      console.log(`  round ${r + 1} ${kind.padEnd(8)} ${ms.toFixed(0)} ms`);
    }
  }
  console.log(`\nstart-up to the first 200 on /health/live, medians of ${opts.rounds} round(s):`);
  for (const kind of Object.keys(times) as Kind[])
    console.log(`  ${kind.padEnd(8)} ${median(times[kind]).toFixed(0)} ms`);
  const paired = times.compiled.map((ms, i) => ms / times.tsx[i]!);
  console.log(`  compiled/tsx ${median(paired).toFixed(2)}x (median of paired rounds)`);
}
