import { z } from 'zod';
import { defineJob } from '../../jobs/job.js';

/**
 * Checks specimens a transaction created or changed (queued once per transaction by the change
 * listener). Ids only: the handler re-reads everything, so a late or repeated delivery is harmless.
 * A rack scan's check costs about as much as the scan, so checks yield to a busy API.
 */
export const checkSpecimenJob = defineJob(
  'standards.checkSpecimen',
  'standards',
  { specimenIds: z.array(z.uuid()).min(1).max(2_000) },
  { yieldsToRequests: true },
);

/** Processes a batch standardization run, resuming after the last chunk it committed. */
export const runStandardizationJob = defineJob('standards.runBatch', 'standards', { runId: z.uuid() });
