import { apiLoadFromParent, type ApiLoad } from './api-load.js';

// Background jobs that yield to requests. On a small machine the API and the workers share the
// cores, and a check costs about as much CPU as the rack scan that queued it (BENCHMARKS.md): at
// full speed the checks would halve the rate at which the API answers. While the API is busy,
// such jobs run one at a time, each followed by a rest proportional to its duration, so they take
// a bounded share of the machine and catch up when the API is quiet. They never stop: the rest is
// capped, so a saturated API still sees its checks advance.

export interface PacerOptions {
  load: ApiLoad;
  /** rest after a job, as a multiple of its duration, while the API is busy */
  restRatio: number;
  /** longest rest, whatever the job's duration */
  maxRestMs: number;
  now?: () => number;
}

export interface Pacer {
  /** Waits for this job's turn; call the returned function when the job is done. */
  turn(): Promise<() => void>;
}

export function createPacer(opts: PacerOptions): Pacer {
  const now = opts.now ?? (() => performance.now());
  // The end of the last paced job's rest: the next paced job starts after it.
  let queue: Promise<void> = Promise.resolve();
  return {
    async turn() {
      if (!opts.load.busy()) return () => undefined;
      const previous = queue;
      let rested!: () => void;
      queue = new Promise<void>((resolve) => (rested = resolve));
      await previous;
      const started = now();
      return () => {
        const rest = Math.min(opts.maxRestMs, (now() - started) * opts.restRatio);
        setTimeout(rested, rest).unref();
      };
    },
  };
}

/**
 * The background child's pacer. The API counts as busy when its event loop ran more than a tenth
 * of the last interval while the machine's cores were more than 80 % busy: a lab's steady pace
 * leaves cores to spare, and the checks then run at full speed; a peak that saturates the machine
 * makes each check rest twice its duration (a third of one worker slot at most), up to half a second.
 */
export function yieldingToParentApi(): Pacer {
  return createPacer({
    load: apiLoadFromParent({ utilization: 0.1, machineBusy: 0.8 }),
    restRatio: 2,
    maxRestMs: 500,
  });
}
