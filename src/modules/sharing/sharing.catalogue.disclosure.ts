// What the catalogue may tell a partner (issue 10, point 2): aggregate counts that do not single
// out a donor, in one answer or by subtracting answers from each other. The rule (README,
// "Sharing between institutions"):
//
// 1. Every count is rounded down to a multiple of 5; below 5 (zero included) it reads "<5".
//    Exact counts of free filters can always be differenced (drop a criterion, shift a year,
//    narrow a list: two exact answers differ by an exact small count), so no count is exact. A
//    shown v stands for v to v + 4, so one answer minus another spans at least 9 values and
//    never pins a count of 1 to 4; within one answer, the total minus its named groups leaves
//    the unnamed rest in a range at least 9 wide whose top is never 0.
// 2. A group is named only when it holds at least 5 samples from at least 5 donors. Smaller ones
//    are not shown, not even as a sum (a sum would give that subtraction the upper bound it
//    needs), so a rare diagnosis, site or age at one provider is not revealed to exist.
// 3. Collection dates are taken by whole years: nothing finer is asked or answered.
//
// What remains: many answers combined can, in rare cases, narrow a count (four or more named
// groups all at the top of their ranges, and a filter that selects exactly the unnamed rest).
// The catalogue is open only to institutions with an agreement, and every question is logged
// with its criteria (sharing.catalogue.ts).
import type { Criteria } from './sharing.criteria.js';
import type { CatalogueCount, Counts } from './sharing.catalogue.count.js';

export const SMALL_COUNT = 5;

export type PublishedCount = number | '<5';

/** A count as the catalogue shows it: rounded down to a multiple of 5, or "<5". */
export function publish(n: number): PublishedCount {
  return n < SMALL_COUNT ? '<5' : Math.floor(n / SMALL_COUNT) * SMALL_COUNT;
}

const publishCounts = (c: Counts) => ({ samples: publish(c.samples), donors: publish(c.donors) });

/** Whether a group may be named (rule 2), judged on its exact counts. */
export const namedGroup = (c: Counts) => c.samples >= SMALL_COUNT && c.donors >= SMALL_COUNT;

/** The criteria with collection dates widened to whole years (rule 3). */
export function byWholeYears(c: Criteria): Criteria {
  return {
    ...c,
    ...(c.collectedFrom ? { collectedFrom: `${c.collectedFrom.slice(0, 4)}-01-01` } : {}),
    ...(c.collectedTo ? { collectedTo: `${c.collectedTo.slice(0, 4)}-12-31` } : {}),
  };
}

/** The exact counts as they may be shown (rule 1). */
export function publishCount(raw: CatalogueCount) {
  return {
    shareable: publishCounts(raw.shareable),
    fit: publishCounts(raw.fit),
    excludedBy: raw.excludedBy.map((e) => ({ criterion: e.criterion, ...publishCounts(e) })),
    groups: raw.groups.map((g) => ({ key: g.key, ...publishCounts(g) })),
  };
}
