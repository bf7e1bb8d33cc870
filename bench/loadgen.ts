import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { LoadSpec } from './load.js';

/**
 * Starts one measurement by the load generator (bench/wrk.ts or bench/load.ts) as a child
 * process, whose stdout carries its result, and a deadline past which it is killed. The caller
 * clears `deadline` once the child is done.
 */
export function spawnLoadgen(
  spec: LoadSpec,
  loadgen: 'wrk' | 'node',
): { child: ChildProcessByStdio<null, Readable, null>; deadline: NodeJS.Timeout } {
  const script = loadgen === 'wrk' ? 'bench/wrk.ts' : 'bench/load.ts';
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const deadline = setTimeout(
    () => child.kill('SIGKILL'),
    (spec.warmupSeconds + spec.durationSeconds + 30) * 1000,
  );
  return { child, deadline };
}
