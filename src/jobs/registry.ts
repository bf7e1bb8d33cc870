import type { z } from 'zod';
import type { Ctx } from '../context.js';
import type { JobContract } from './job.js';

export interface JobRun {
  /** BullMQ job id, which is the outbox id */
  id: string;
  /** tries made before this one */
  attemptsMade: number;
  /** reports progress visible on the queue board and to pollers */
  progress(value: number | object): Promise<void>;
}

export interface BoundJob<C extends JobContract = JobContract> {
  contract: C;
  handle(ctx: Ctx, data: z.output<C['payload']>, run: JobRun): Promise<unknown>;
}

/** Binds a handler to a contract. Handlers call one service method and re-read state first. */
export function bindJob<C extends JobContract>(
  contract: C,
  handle: (ctx: Ctx, data: z.output<C['payload']>, run: JobRun) => Promise<unknown>,
): BoundJob<C> {
  return { contract, handle };
}

export type JobRegistry = ReadonlyMap<string, BoundJob>;

export function createRegistry(jobs: BoundJob[]): JobRegistry {
  const map = new Map<string, BoundJob>();
  for (const job of jobs) {
    if (map.has(job.contract.name)) throw new Error(`job ${job.contract.name} is bound twice`);
    map.set(job.contract.name, job);
  }
  return map;
}
