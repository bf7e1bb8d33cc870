import { z } from 'zod';

// Time that decides something (consent expiry, when a change is recorded) comes from an injected
// clock, so tests can move it and a deployment has one source of time.

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

const DAY_MS = 86_400_000;

/**
 * The clock's UTC date, YYYY-MM-DD, remembered until the clock passes midnight: the scan lookup
 * asks it on every scan.
 */
export function utcDay(clock: Clock): () => string {
  let current = { from: 0, to: 0, day: '' };
  return () => {
    const ms = clock().getTime();
    if (ms < current.from || ms >= current.to) {
      const from = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
      current = { from, to: from + DAY_MS, day: new Date(ms).toISOString().slice(0, 10) };
    }
    return current.day;
  };
}

// Instants and dates the API accepts. RFC 3339 allows years 0000 to 9999 and offsets that carry
// a time past 9999-12-31 in UTC; PostgreSQL stores neither year 0 nor a year past 9999 in the
// form the driver sends, so both are refused here, where every input schema gets them.

/** Does an RFC 3339 date-time fall outside the years 0001 to 9999 in UTC? (False when it does not parse.) */
export const outsideStorableYears = (value: string) => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year < 1 || year > 9999;
};

/** An RFC 3339 date-time with offset, in years 0001 to 9999 (UTC). */
export const instant = z.iso
  .datetime({ offset: true })
  // An unparseable value is the format check's to report: one problem per field.
  .refine((v) => !outsideStorableYears(v), 'must fall in the years 0001 to 9999 (UTC)')
  .describe('RFC 3339 date-time with offset');

/** A calendar date (YYYY-MM-DD) from 0001-01-01 on. */
export const calendarDate = z.iso.date().refine((v) => !v.startsWith('0000-'), 'year 0000 does not exist');
