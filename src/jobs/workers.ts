import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import type { Ctx } from '../context.js';
import type { Db } from '../db/client.js';
import { markOutboxDone, markOutboxFailed } from './outbox.js';
import type { QueueSet } from './queue-set.js';
import { redisConnection } from './queue-set.js';
import { QUEUE_NAMES, QUEUES, cappedExponentialDelay } from './queues.js';
import { TRACE_CONTEXT_FIELD } from './job.js';
import type { Pacer } from './pacer.js';
import type { JobRegistry } from './registry.js';
import { isDomainError } from '../errors.js';
import { redactedError } from '../logger.js';

export interface WorkerPool {
  close(): Promise<void>;
}

/**
 * One BullMQ worker per queue, dispatching by job name through the typed registry. Handlers act
 * as the system; a payload that fails its schema or a domain error will not succeed on retry.
 * The outcome is recorded on the job's outbox row (PostgreSQL is the record of work done).
 */
export function startWorkers(deps: {
  db: Db;
  queues: QueueSet;
  registry: JobRegistry;
  log: Logger;
  /** paces the jobs that yield to requests; without one they run as soon as a slot is free */
  pacer?: Pacer;
}): WorkerPool {
  const connections: ReturnType<typeof redisConnection>[] = [];
  const workers = QUEUE_NAMES.map((queue) => {
    const connection = redisConnection(deps.queues.redisUrl);
    connection.on('error', () => undefined);
    connections.push(connection);
    const run = async (job: Job) => {
      const bound = deps.registry.get(job.name);
      if (!bound) {
        await markOutboxFailed(deps.db, job.id);
        throw new UnrecoverableError(`no handler for job ${job.name}`);
      }
      const parsed = bound.contract.payload.safeParse(job.data);
      if (!parsed.success) {
        await markOutboxFailed(deps.db, job.id);
        throw new UnrecoverableError(`invalid payload for ${job.name}: ${parsed.error.message}`);
      }
      const data = parsed.data as { requestId: string };
      const log = deps.log.child({ queue, job: job.name, jobId: job.id, reqId: data.requestId });
      const ctx: Ctx = {
        actor: { kind: 'system', name: `job:${job.name}`, institutionId: null },
        requestId: data.requestId,
        log,
      };
      let result: unknown;
      const done = bound.contract.yieldsToRequests && deps.pacer ? await deps.pacer.turn() : undefined;
      try {
        result = await bound.handle(ctx, data, {
          id: job.id ?? '',
          attemptsMade: job.attemptsMade,
          progress: (value) => job.updateProgress(value),
        });
      } catch (err) {
        if (isDomainError(err) || err instanceof ZodError) {
          log.warn({ err }, 'job refused by the domain; not retried');
          await markOutboxFailed(deps.db, job.id);
          throw new UnrecoverableError(err.message);
        }
        // The last attempt: BullMQ keeps it failed, so the reconciler must not put it back.
        if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
          await markOutboxFailed(deps.db, job.id).catch((e: unknown) =>
            log.warn({ err: e }, 'could not record the failed job on its outbox row'),
          );
        // BullMQ keeps the message and stack in Redis (and the queue board shows them).
        throw redactedError(err);
      } finally {
        done?.();
      }
      // A failure here fails the attempt: the retry runs the idempotent handler again.
      await markOutboxDone(deps.db, job.id);
      return result;
    };
    const worker = new Worker(queue, (job: Job) => traced(queue, job, () => run(job)), {
      connection,
      prefix: deps.queues.prefix,
      concurrency: QUEUES[queue].concurrency,
      settings: { backoffStrategy: (attemptsMade) => cappedExponentialDelay(queue, attemptsMade) },
    });
    worker.on('failed', (job, err) => deps.log.warn({ queue, jobId: job?.id, err }, 'job attempt failed'));
    worker.on('error', (err) => deps.log.error({ queue, err }, 'worker error'));
    return worker;
  });
  return {
    async close() {
      // close() waits for jobs in progress to finish (graceful shutdown).
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

const tracer = trace.getTracer('biobank-jobs');

/**
 * Runs one attempt inside a span of its own (a no-op when tracing is off): a child of the request
 * whose transaction wrote the job's outbox row, when the relay carried that request's trace
 * context (src/jobs/outbox.ts), so request, outbox and job read as one trace.
 */
function traced<T>(queue: string, job: Job, run: () => Promise<T>): Promise<T> {
  const carrier = (job.data as Record<string, unknown> | null)?.[TRACE_CONTEXT_FIELD];
  const parent =
    carrier && typeof carrier === 'object' ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
  const attributes = {
    'messaging.system': 'bullmq',
    'messaging.destination.name': queue,
    'messaging.message.id': job.id ?? '',
    'biobank.job': job.name,
    'biobank.job.attempt': job.attemptsMade + 1,
  };
  return tracer.startActiveSpan(
    `job ${job.name}`,
    { kind: SpanKind.CONSUMER, attributes },
    parent,
    async (span: Span) => {
      try {
        return await run();
      } catch (err) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : 'failed',
        });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
