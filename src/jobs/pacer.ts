import { apiLoadFromParent, type ApiLoad } from './api-load.js';
import { PACING } from './queues.js';

// Background jobs that yield to requests. On a small machine the API and the workers share the
// cores, and a check costs about as much CPU as the rack scan that queued it (BENCHMARKS.md): at
// full speed the checks would halve the rate at which the API answers. While the API is busy,
// such jobs run one at a time, each followed by a rest proportional to its duration, so they take
// a bounded share of the machine and catch up when the API is quiet. They never stop: the rest is
// capped, and a job waits for the one before it to end at most `maxWaitMs` after that one started
// (a check that hangs delays the next by that much, and the others keep their turns after it).

export interface PacerOptions {
  load: ApiLoad;
  /** rest after a job, as a multiple of its duration, while the API is busy */
  restRatio: number;
  /** longest rest, whatever the job's duration */
  maxRestMs: number;
  /** longest wait for the job before, whatever it is doing */
  maxWaitMs: number;
  now?: () => number;
}

export interface Pacer {
  /** Waits for this job's turn; call the returned function when the job is done. */
  turn(): Promise<() => void>;
}

/** Settles when `p` does or `ms` have passed, whichever is first. */
async function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()));
  await Promise.race([p, timeout]);
  clearTimeout(timer);
}

export function createPacer(opts: PacerOptions): Pacer {
  const now = opts.now ?? (() => performance.now());
  // The last paced job: when it started, and when it ended and rested. The next one starts after
  // both, or `maxWaitMs` after the first if the job does not end.
  let lastStarted: Promise<void> = Promise.resolve();
  let lastRestEnd: Promise<void> = Promise.resolve();
  return {
    async turn() {
      if (!opts.load.busy()) return () => undefined;
      const previousStarted = lastStarted;
      const previousRestEnd = lastRestEnd;
      let started!: () => void;
      let rested!: () => void;
      lastStarted = new Promise<void>((resolve) => (started = resolve));
      lastRestEnd = new Promise<void>((resolve) => (rested = resolve));
      await previousStarted;
      await settledWithin(previousRestEnd, opts.maxWaitMs);
      started();
      const startedAt = now();
      return () => {
        const rest = Math.min(opts.maxRestMs, (now() - startedAt) * opts.restRatio);
        setTimeout(rested, rest).unref();
      };
    },
  };
}

/**
 * The background child's pacer, with the knobs in src/jobs/queues.ts (`PACING`). Its IPC channel
 * no longer keeps the process alive once it listens: it stops when its work does, as before.
 */
export function yieldingToParentApi(): Pacer {
  const load = apiLoadFromParent({ utilization: PACING.apiUtilization, machineBusy: PACING.machineBusy });
  process.channel?.unref();
  return createPacer({
    load,
    restRatio: PACING.restRatio,
    maxRestMs: PACING.maxRestMs,
    maxWaitMs: PACING.maxWaitMs,
  });
}
