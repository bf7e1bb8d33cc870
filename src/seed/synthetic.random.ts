// Deterministic randomness for the synthetic inventory, and the time units it counts in: the same
// seed gives the same inventory shape (ids and keys differ), so benchmark figures compare run to run.

/** mulberry32: small, fast and good enough to shape an inventory (not for secrets). */
export function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = ReturnType<typeof mulberry32>;
export const between = (rng: Rng, lo: number, hi: number) => lo + rng() * (hi - lo);
export const intBetween = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
export const round = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals;

/** One of the values, with the odds of its weight. */
export function pick<T>(rng: Rng, weighted: readonly (readonly [T, number])[]): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [v, w] of weighted) {
    r -= w;
    if (r < 0) return v;
  }
  return weighted[weighted.length - 1]![0];
}

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
