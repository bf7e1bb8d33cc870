// The pick list's rules, pure: where a reserved tube is, in the words a technician walks by
// (freezer, rack, box, position), and the order to walk them in.
import { chainPath, positionLabel, type LocationChainEntry } from '../storage/index.js';

/** What the pick list needs of a tube: its box's location chain (root first) and its position. */
export interface PickFacts {
  sampleCode: string;
  chain: readonly LocationChainEntry[] | null;
  positionRow: number | null;
  positionCol: number | null;
}

export interface PickLocation {
  freezer: string | null;
  rack: string | null;
  box: string | null;
  position: string | null;
  path: string | null;
}

const FREEZERS: readonly string[] = ['freezer', 'ln2_tank', 'refrigerator'];
const RACKS: readonly string[] = ['rack', 'shelf'];

const named = (chain: readonly LocationChainEntry[] | null, kinds: readonly string[]) =>
  chain?.find((c) => kinds.includes(c.kind))?.name ?? null;

export function pickLocation(f: PickFacts): PickLocation {
  const box = f.chain?.at(-1) ?? null;
  const position =
    box?.gridScheme && box.gridRows && box.gridCols && f.positionRow !== null && f.positionCol !== null
      ? positionLabel(box.gridScheme, box.gridRows, box.gridCols, f.positionRow, f.positionCol)
      : null;
  return {
    freezer: named(f.chain, FREEZERS),
    rack: named(f.chain, RACKS),
    box: box ? `${box.name} (${box.barcode})` : null,
    position,
    path: f.chain ? chainPath(f.chain) + (position ? ` / ${position}` : '') : null,
  };
}

const byName = new Intl.Collator('en', { numeric: true }).compare;

/**
 * The order a technician walks: freezer, rack, box, then position in the box (row, column);
 * names compare as people read them (Rack 2 before Rack 10). Tubes without a place come last,
 * by sample code.
 */
export function pickOrder(a: PickFacts, b: PickFacts): number {
  if (!a.chain || !b.chain) return Number(!a.chain) - Number(!b.chain) || byName(a.sampleCode, b.sampleCode);
  const key = (f: PickFacts) => [
    named(f.chain, FREEZERS) ?? '',
    named(f.chain, RACKS) ?? '',
    f.chain!.at(-1)?.name ?? '',
  ];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    const c = byName(ka[i]!, kb[i]!);
    if (c) return c;
  }
  return (a.positionRow ?? 0) - (b.positionRow ?? 0) || (a.positionCol ?? 0) - (b.positionCol ?? 0);
}
