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
