import { z } from 'zod';
import type { QueueName } from './queues.js';

/**
 * A job's contract: name, queue and payload. Payloads carry ids and the request id only, never
 * donor data (STYLE.md rule 18). Handlers are bound to contracts in src/jobs/registry.ts.
 */
export interface JobContract<N extends string = string, S extends z.ZodType = z.ZodType> {
  name: N;
  queue: QueueName;
  payload: S;
  /**
   * Short, frequent work that is paced while the API is busy (src/jobs/pacer.ts): one such job at
   * a time then, each followed by a rest, so that it takes a bounded share of the machine.
   */
  yieldsToRequests?: boolean;
}

/** Where the relay puts the W3C trace context of the request that queued the job (src/jobs/outbox.ts). */
export const TRACE_CONTEXT_FIELD = 'traceContext';

export const jobEnvelope = z.object({ requestId: z.string().max(128) });

export function defineJob<N extends string, Shape extends z.ZodRawShape>(
  name: N,
  queue: QueueName,
  shape: Shape,
  opts: { yieldsToRequests?: boolean } = {},
) {
  return {
    name,
    queue,
    payload: z.object({ ...shape, ...jobEnvelope.shape }),
    yieldsToRequests: opts.yieldsToRequests ?? false,
  } satisfies JobContract;
}

export type JobPayload<C extends JobContract> = Omit<z.output<C['payload']>, 'requestId'>;
