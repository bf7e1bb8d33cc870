import type { JobsOptions } from 'bullmq';

/**
 * Every queue's knobs in one place (STYLE.md rule 20), each with its reason.
 */
export const QUEUES = {
  webhooks: {
    // Deliveries wait on other institutions' servers: I/O bound, so many at once is cheap.
    concurrency: 8,
    job: {
      // Standard Webhooks receivers expect retries for about a day: 12 tries with the capped
      // exponential backoff below span roughly 10 hours.
      attempts: 12,
      backoff: { type: 'capped-exponential' },
      // Completed jobs are kept a day so a relay replay of the same outbox id is deduplicated.
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 5_000, capMs: 60 * 60_000 },
  },
  consent: {
    // Cascades lock a donor's tubes in batches; two at once per worker keeps lock waits short
    // while other donors' withdrawals still proceed.
    concurrency: 2,
    job: {
      // A cascade is idempotent, so retrying after a crash or a deadlock is always safe.
      attempts: 10,
      backoff: { type: 'capped-exponential' },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 1_000, capMs: 5 * 60_000 },
  },
  maintenance: {
    // Housekeeping (purging expired idempotency keys) is rare and must not compete with work.
    concurrency: 1,
    job: {
      attempts: 3,
      backoff: { type: 'capped-exponential' },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 10_000, capMs: 5 * 60_000 },
  },
  standards: {
    // Per-specimen checks are short (milliseconds) and batch runs long (minutes for a million
    // specimens), and both share this queue: four slots keep the checks after every change
    // flowing while one or two runs proceed. While the API is busy, checks run one at a time
    // (PACING below) and those waiting for their turn hold slots too, so a run queued during a
    // peak waits behind the checks queued before it. A run holds at most two pool connections (it loads the next chunk
    // while writing this one), so four slots stay well inside the pool.
    concurrency: 4,
    job: {
      // Checks are idempotent and runs resume after their last committed chunk, so a retry after a
      // crash, a deadlock or a lost connection is always safe; the last attempt marks a run failed.
      attempts: 5,
      backoff: { type: 'capped-exponential' },
      // A day of completed jobs lets a relay replay of the same outbox id be deduplicated.
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 2_000, capMs: 5 * 60_000 },
  },
  sharing: {
    // Proposals scan a provider's inventory (a second or two each) and deadline passes walk the
    // open requests: two at once keeps notifications moving while a proposal runs, without
    // several full scans competing for the database.
    concurrency: 2,
    job: {
      // Every sharing handler re-reads the request and returns when its work is done.
      attempts: 8,
      backoff: { type: 'capped-exponential' },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 2_000, capMs: 5 * 60_000 },
  },
  imports: {
    // An import applies a file as one long run of chunk transactions on the specimen tables: one at
    // a time per worker keeps two files from competing for the same boxes and indexes.
    concurrency: 1,
    job: {
      // An import resumes after its last committed chunk (valid-rows) or starts again from nothing
      // (all-or-nothing, one transaction), so a retry after a crash or lost connection is safe.
      attempts: 5,
      backoff: { type: 'capped-exponential' },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
    backoff: { baseMs: 5_000, capMs: 5 * 60_000 },
  },
} as const;

export type QueueName = keyof typeof QUEUES;
export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

/** Exponential backoff with a ceiling, with jitter so retries of one outage do not stampede. */
export function cappedExponentialDelay(queue: QueueName, attemptsMade: number, random = Math.random): number {
  const { baseMs, capMs } = QUEUES[queue].backoff;
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * How the background child of `serve` paces the jobs that yield to requests (src/jobs/pacer.ts):
 * the API counts as busy when its event loop ran more than a tenth of the last interval while the
 * host's cores were more than 80 % busy. A lab's steady pace (10 racks a second) leaves cores to
 * spare and the checks run at full speed; a peak that saturates the machine makes each check rest
 * twice its duration, up to half a second (a check of a rack takes about 13 ms alone and up to
 * 100 ms at a saturated peak, so checks then take about a third of one worker slot), and wait for
 * the check before it at most 5 s after that one started.
 */
export const PACING = {
  apiUtilization: 0.1,
  machineBusy: 0.8,
  restRatio: 2,
  maxRestMs: 500,
  maxWaitMs: 5_000,
} as const;
