import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

// Several API processes on one port (WEB_CONCURRENCY): on a multi-core machine one event loop,
// not PostgreSQL, bounds the scan lookup (BENCHMARKS.md). The primary serves nothing itself: it
// forks the processes, replaces one that dies, and on SIGTERM or SIGINT hands each one a single
// SIGTERM and waits for their graceful stop. The processes are stateless (ARCHITECTURE.md section
// 9), so which one answers a request does not matter.

export interface ClusterOptions {
  processes: number;
  /** Run the outbox relay and the job workers in the first process only (WORKERS). */
  backgroundInFirst: boolean;
  /** Each process's own grace period; the primary waits a little longer before killing. */
  shutdownTimeoutMs: number;
  log: Logger;
}

/** True inside an API process forked by `runCluster`. */
export function isClusterChild(): boolean {
  return cluster.isWorker;
}

/**
 * A terminal's Ctrl-C reaches the whole process group; an API process leaves it to the primary,
 * which sends one SIGTERM (two signals would mean "exit at once" to the process).
 */
export function leaveInterruptToPrimary(): void {
  process.on('SIGINT', () => undefined);
}

/** A process that dies sooner than this after its start is replaced only after a pause. */
const QUICK_DEATH_MS = 5_000;

/**
 * Forks the API processes, each running `serve`. Resolves with the exit code once every process
 * has stopped after a signal: 0 when all stopped cleanly.
 */
export function runCluster(opts: ClusterOptions): Promise<number> {
  cluster.setupPrimary({ args: ['serve'] });
  const slots = new Map<Worker, { slot: number; startedAt: number }>();
  let stopping = false;
  let failed = false;

  const fork = (slot: number) => {
    if (stopping) return;
    // Only one process relays the outbox and runs jobs; the others answer requests only.
    const worker = cluster.fork({ WORKERS: slot === 0 && opts.backgroundInFirst ? '1' : '0' });
    slots.set(worker, { slot, startedAt: Date.now() });
  };
  for (let slot = 0; slot < opts.processes; slot++) fork(slot);
  opts.log.info({ processes: opts.processes }, 'API processes started');

  return new Promise((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      const entry = slots.get(worker);
      slots.delete(worker);
      if (!entry) return;
      if (stopping) {
        // A process still starting has no handler yet: SIGTERM ends it, which is a clean stop too.
        if (code !== 0 && signal !== 'SIGTERM') failed = true;
        if (slots.size === 0) resolve(failed ? 1 : 0);
        return;
      }
      const quick = Date.now() - entry.startedAt < QUICK_DEATH_MS;
      opts.log.error(
        { pid: worker.process.pid, code, signal, slot: entry.slot },
        'API process died; starting another',
      );
      // A process that cannot start (a bad port, a crash at start-up) is not restarted in a loop.
      if (quick) setTimeout(() => fork(entry.slot), 1_000).unref();
      else fork(entry.slot);
    });

    const killAll = () => {
      for (const worker of slots.keys()) worker.process.kill('SIGKILL');
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        opts.log.error({ signal }, 'second signal: stopping the API processes at once');
        killAll();
        resolve(1);
        return;
      }
      stopping = true;
      opts.log.info({ signal, processes: slots.size }, 'stopping the API processes');
      if (slots.size === 0) resolve(0);
      for (const worker of slots.keys()) worker.process.kill('SIGTERM');
      setTimeout(() => {
        if (slots.size === 0) return;
        failed = true;
        killAll();
      }, opts.shutdownTimeoutMs + 5_000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
