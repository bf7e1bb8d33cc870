import { fork, type ChildProcess } from 'node:child_process';
import type { Log } from './context.js';
import { reportApiLoad } from './jobs/api-load.js';
import type { WorkerPool } from './jobs/workers.js';

// `serve` with WORKERS on runs the job workers and the reconciler as a `worker` child process
// rather than on the API's event loop (the outbox relay, a LISTEN and a cheap pass per
// notification, stays in `serve`): job handlers (standardization and custody checks, webhooks)
// then share the machine's cores through the operating system's scheduler instead of delaying
// the requests queued behind them in one loop. This process reports its load to the child over
// the IPC channel (src/jobs/api-load.ts), and the checks the child runs yield to a busy API
// (src/jobs/pacer.ts), so the API's latency with workers on stays near workers off (BENCHMARKS.md,
// rack-scan --workers). The child is this process's own: it stops when this one stops or dies,
// and is started again if it dies.

/** The argument that tells the `worker` role it is the background process of a `serve`, and whose. */
const WITH_PARENT = '--with-parent=';

const parentArgument = () => process.argv.slice(3).find((a) => a.startsWith(WITH_PARENT));

/** True inside the background process `forkBackground` started. */
export const isBackgroundChild = (): boolean =>
  process.argv[2] === 'worker' && parentArgument() !== undefined;

/** Starts the background role in a child process (same program, same settings, `worker`). */
export function forkBackground(opts: { log: Log; shutdownTimeoutMs: number }): WorkerPool {
  let child: ChildProcess | null = null;
  let stopping = false;
  const start = () => {
    const started = fork(process.argv[1]!, ['worker', `${WITH_PARENT}${process.pid}`], {
      execArgv: process.execArgv,
      stdio: 'inherit',
    });
    child = started;
    reportApiLoad(started);
    started.on('exit', (code, signal) => {
      if (child === started) child = null;
      if (stopping) return;
      opts.log.error({ code, signal }, 'background process died; starting another');
      setTimeout(start, 1_000).unref();
    });
  };
  start();
  return {
    async close() {
      stopping = true;
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      // Its own grace period ends first; past that and a margin, it is ended.
      const timer = setTimeout(() => running.kill('SIGKILL'), opts.shutdownTimeoutMs + 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * In the background child: a parent that is gone (killed without a word) leaves the child to
 * another parent, and the child then stops as on SIGTERM, finishing the jobs in hand; one whose
 * stop hangs (a dependency that does not answer) exits once `graceMs` and a margin have passed.
 * Watched by the parent's pid as the parent passed it (a parent that died while the child was
 * still loading is seen too), not by the IPC channel: the child leaves it unref'd, and a channel
 * says nothing of a parent that is alive but stuck.
 */
export function stopWithParent(graceMs: number): void {
  const parent = Number(parentArgument()?.slice(WITH_PARENT.length));
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    setTimeout(() => process.exit(1), graceMs + 5_000).unref();
    process.kill(process.pid, 'SIGTERM');
  }, 1_000);
  watch.unref();
}
