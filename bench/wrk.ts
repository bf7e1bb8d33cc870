import { spawn } from 'node:child_process';
import type { LoadResult, LoadSpec } from './load.js';

// The same closed loop as bench/load.ts, driven by wrk (C, one thread) instead of Node: wrk takes
// a fraction of the CPU a Node client needs per request, so on a two-core machine more of it is
// left to the servers measured. Same LoadSpec in, same JSON lines out; run by bench/run.ts when
// wrk is installed (`--loadgen`). A warm-up run first, then the measured run with --latency.

const SCRIPT = new URL('./wrk-scan.lua', import.meta.url).pathname;

interface WrkRun {
  output: string;
  /** CPU wrk used, microseconds (bash `times` of its children) */
  cpuMicros: number;
}

function runWrk(spec: LoadSpec, seconds: number): Promise<WrkRun> {
  const args = ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--latency', '-s', SCRIPT];
  args.push(`http://${spec.host}:${spec.port}`);
  return new Promise((resolve, reject) => {
    // bash's `times` prints the CPU its children used: wrk's own, exactly.
    const child = spawn('bash', ['-c', 'wrk "$@" && times', 'wrk', ...args], {
      env: {
        ...process.env,
        BARCODES: spec.barcodesFile,
        PATH_PREFIX: spec.pathPrefix,
        AUTHORIZATION: spec.headers.authorization ?? '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${output}`));
      const times = output
        .trim()
        .split('\n')
        .at(-1)
        ?.match(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/);
      if (!times) return reject(new Error(`no CPU times after wrk:\n${output}`));
      const [, um, us, sm, ss] = times.map(Number) as [number, number, number, number, number];
      resolve({ output, cpuMicros: (um * 60 + us + sm * 60 + ss) * 1e6 });
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
function ms(text: string | undefined): number {
  const m = text?.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The figures of wrk's --latency report. */
export function parseWrk(output: string, cpuMicros: number): LoadResult {
  const line = (re: RegExp) => output.match(re) ?? undefined;
  const latency = line(/^\s*Latency\s+(\S+)\s+\S+\s+(\S+)/m);
  const pct = (p: number) => ms(line(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm'))?.[1]);
  const done = line(/^\s*(\d+) requests in ([\d.]+)(\w+)/m);
  if (!latency || !done) throw new Error(`unexpected wrk output:\n${output}`);
  const count = Number(done[1]);
  const seconds = ms(`${done[2]}${done[3]}`) / 1000;
  const non200 = Number(line(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = line(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = socket ? socket.slice(1).reduce((s, v) => s + Number(v), 0) : 0;
  return {
    event: 'result',
    count,
    seconds,
    rps: count / seconds,
    mean: ms(latency[1]),
    max: ms(latency[2]),
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    non200,
    errors,
    cpuMicrosPerRequest: cpuMicros / Math.max(1, count),
  };
}

async function main() {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  await runWrk(spec, spec.warmupSeconds);
  process.stdout.write(JSON.stringify({ event: 'measure-start' }) + '\n');
  const measured = await runWrk(spec, spec.durationSeconds);
  process.stdout.write(JSON.stringify(parseWrk(measured.output, measured.cpuMicros)) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`wrk: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
