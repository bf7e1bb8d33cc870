// Preanalytical times are facts of the past (ISBER SPREC): a collection, reception, processing or
// freezing time well ahead of the service's clock is a typing error or a wrong time zone. A day of
// tolerance leaves room for clocks and time zones that disagree.
import type { DomainError } from '../../errors.js';
import { timeBeforeCollection, timeInFuture } from './specimens.errors.js';

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

type KnownTimes = Partial<Record<(typeof PREANALYTICAL_TIMES)[number], string | Date | null>>;
const instantOf = (v: string | Date | null | undefined) =>
  v === null || v === undefined ? undefined : v instanceof Date ? v : new Date(v);

/**
 * TIME_BEFORE_COLLECTION for the first reception, processing or freezing time before the
 * collection: nothing happens to a specimen before it exists. (Their order among themselves is
 * not fixed: blood may be centrifuged at the ward and received after, tissue frozen in theatre.)
 * `times` holds what the specimen will be: the stored values with the call's over them.
 */
export function timeBeforeCollectionOf(times: KnownTimes, prefix = ''): DomainError | undefined {
  const collected = instantOf(times.collectedAt);
  if (!collected || Number.isNaN(collected.getTime())) return undefined;
  for (const field of PREANALYTICAL_TIMES) {
    const at = instantOf(times[field]);
    if (field !== 'collectedAt' && at && at.getTime() < collected.getTime())
      return timeBeforeCollection(`${prefix}${field}`, at.toISOString(), collected.toISOString());
  }
  return undefined;
}

/** A stored specimen's preanalytical times. */
export const storedTimes = (row: Record<(typeof PREANALYTICAL_TIMES)[number], Date | null>): KnownTimes =>
  Object.fromEntries(PREANALYTICAL_TIMES.map((f) => [f, row[f]]));

/** The times a call states (null clears one), leaving out those it does not mention. */
export const definedTimes = (
  input: Partial<Record<(typeof PREANALYTICAL_TIMES)[number], unknown>>,
): KnownTimes =>
  Object.fromEntries(
    PREANALYTICAL_TIMES.filter((f) => input[f] !== undefined).map((f) => [f, input[f] as string | null]),
  );
