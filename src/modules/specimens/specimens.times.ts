// Preanalytical times are facts of the past (ISBER SPREC): a collection, reception, processing or
// freezing time well ahead of the service's clock is a typing error or a wrong time zone. A day of
// tolerance leaves room for clocks and time zones that disagree.
import type { DomainError } from '../../errors.js';
import { timeInFuture } from './specimens.errors.js';

export const PREANALYTICAL_TIMES = ['collectedAt', 'receivedAt', 'processedAt', 'frozenAt'] as const;
type PreanalyticalTimes = Partial<Record<(typeof PREANALYTICAL_TIMES)[number], string | null>>;

const TOLERANCE_MS = 86_400_000;

/** TIME_IN_FUTURE for the first time more than a day after `now`, named `${prefix}${field}`. */
export function futurePreanalyticalTime(
  times: PreanalyticalTimes,
  now: Date,
  prefix = '',
): DomainError | undefined {
  const latest = new Date(now.getTime() + TOLERANCE_MS);
  for (const field of PREANALYTICAL_TIMES) {
    const value = times[field];
    if (value && Date.parse(value) > latest.getTime())
      return timeInFuture(`${prefix}${field}`, value, latest);
  }
  return undefined;
}

/**
 * TIME_IN_FUTURE for the first custody command dated more than a day after `now` (a check-out,
 * a consumption or a shipment dated in 2030 would sit after every later event of the chain).
 */
export function futureEventTime(
  times: readonly (Date | null | undefined)[],
  now: Date,
  field = 'occurredAt',
): DomainError | undefined {
  const latest = new Date(now.getTime() + TOLERANCE_MS);
  const late = times.find((t) => t && t.getTime() > latest.getTime());
  return late ? timeInFuture(field, late.toISOString(), latest) : undefined;
}
