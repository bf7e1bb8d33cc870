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

// Instants the API accepts. RFC 3339 allows years 0000 to 9999 and offsets that carry a time past
// 9999-12-31 in UTC. No tube was collected, stored or shipped before 1900: an earlier year is a
// typo ("0024" for "2024"), and one before 0100 would not even read back as written (JavaScript
// takes PostgreSQL's "0024-..." for 1924 or 2024, and a custody chain that hashed the time it
// was given would then fail to verify). PostgreSQL stores no year past 9999 in the form the
// driver sends. So both ends are refused here, where every input schema gets them.

/** The first year an instant may fall in (UTC). */
export const FIRST_YEAR = 1900;

/** Does an RFC 3339 date-time fall outside the years 1900 to 9999 in UTC? (False when it does not parse.) */
export const outsideAcceptedYears = (value: string) => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year < FIRST_YEAR || year > 9999;
};

/** An RFC 3339 date-time with offset, in years 1900 to 9999 (UTC). */
export const instant = z.iso
  .datetime({ offset: true })
  // An unparseable value is the format check's to report: one problem per field.
  .refine((v) => !outsideAcceptedYears(v), `must fall in the years ${FIRST_YEAR} to 9999 (UTC)`)
  .describe('RFC 3339 date-time with offset, years 1900 to 9999');

/** A calendar date (YYYY-MM-DD) in the years 1900 to 9999, as instants: an earlier year is a typo. */
export const calendarDate = z.iso
  .date()
  // A malformed value is the format check's to report: one problem per field.
  .refine(
    (v) => !/^\d{4}-/.test(v) || Number(v.slice(0, 4)) >= FIRST_YEAR,
    `must fall in the years ${FIRST_YEAR} to 9999`,
  );
