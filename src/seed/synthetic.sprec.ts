// SPREC 3.0 codes of the primaries. Positions 1-2 (type of sample, primary container or type of
// collection) and the tube kind are fixed per tube; the other letters are worked out from what the
// generator records (collection -> processing -> freezing times, the temperatures and centrifugation
// runs in `quality`, the temperature of the box the tube goes to) with the SPREC functions
// standardization uses (sprec.letters.ts), so the stated code agrees position by position with the code
// sprec.compute.ts derives from the record. A few (SPREC_SLIP_RATE) carry a realistic mistake,
// so standardization has something to flag.
//
// Uncentrifuged tubes (whole blood, urine, saliva, marrow, stool) state N at positions 4-6 and
// their collection -> processing delay at position 3; N at position 3 would mean ">48 h at
// 2-10 °C". The long-term storage letter names the tube kind and the box temperature, e.g. the
// original collection tube at -80 °C is Y, never E (programmable freezing below -135 °C).
import {
  centrifugationCode,
  ischaemiaCode,
  longTermStorageCode,
  postCentrifugationCode,
  preCentrifugationCode,
  type SprecLongTermContainerKind,
} from '../modules/standards/index.js';
import { intBetween, MINUTE, type Rng } from './synthetic.random.js';

type SprecProcessing =
  /** not centrifuged before storage: positions 4-6 N */
  | { kind: 'unspun' }
  /** CSF: spun cold at <3000 g with brake, transported on ice in `onIceShare` of collections */
  | { kind: 'spunCold'; onIceShare: number }
  /** snap-frozen tissue: warm ischaemia drawn in minutes, cold ischaemia = collection -> freezing */
  | { kind: 'snapFrozen'; warmIschaemiaMin: readonly [number, number] };

export interface PrimarySprec {
  /** positions 1-2, e.g. `BLD-PED`, `TIS-SRG` */
  head: string;
  processing: SprecProcessing;
  /** the tube the primary is stored in (long-term storage letter, with the box temperature) */
  tube: SprecLongTermContainerKind;
}

export const PRIMARY_SPREC = {
  // 10 mL EDTA / 8.5 mL SST / marrow / Oragene / stool: stored in the original collection tube.
  whole_blood: { head: 'BLD-PED', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  serumTube: { head: 'BLD-SST', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  bone_marrow: { head: 'BMA-PED', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  saliva: { head: 'SAL-ORG', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  stool: { head: 'STL-PPS', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  // 20 mL urine and 5 mL CSF: transferred to a >=5 mL polypropylene tube.
  urine: { head: 'URN-PPS', processing: { kind: 'unspun' }, tube: 'ppTube5mLPlus' },
  csf: { head: 'CSF-PPS', processing: { kind: 'spunCold', onIceShare: 0.6 }, tube: 'ppTube5mLPlus' },
  // Snap-frozen tissue in 2 mL tubes in the LN2 tanks.
  surgicalTissue: {
    head: 'TIS-SRG',
    processing: { kind: 'snapFrozen', warmIschaemiaMin: [5, 45] },
    tube: 'ppTube05To2mL',
  },
  biopsy: {
    head: 'TIS-BPS',
    processing: { kind: 'snapFrozen', warmIschaemiaMin: [0, 1] },
    tube: 'ppTube05To2mL',
  },
} as const satisfies Record<string, PrimarySprec>;

export const SPREC_VERSION = '3.0';
/** Share of primaries stated with a mistake (a letter the record contradicts). */
const SPREC_SLIP_RATE = 0.02;
/** CSF run: 2000 g, 10 min, 4 °C, with brake (SPREC centrifugation D). */
const CSF_RUN = {
  centrifugationG: 2000,
  centrifugationMin: 10,
  centrifugationTempC: 4,
  centrifugationBrake: 1,
};

/** Pre- and post-centrifugation letters for the same delay at the other temperature (RT <-> 2-10 °C). */
const OTHER_TEMPERATURE: Record<string, string> = {
  A: 'B',
  B: 'A',
  C: 'D',
  D: 'C',
  E: 'F',
  F: 'E',
  G: 'H',
  H: 'G',
  I: 'J',
  J: 'I',
  K: 'L',
  L: 'K',
  M: 'N',
  N: 'M',
};
/** Long-term storage letters for the same tube at another temperature (stored at -80 °C, stated -20 °C...). */
const OTHER_STORAGE: Record<string, string> = { A: 'B', J: 'K', V: 'A', C: 'D', D: 'B' };
/** Ischaemia one band shorter than recorded (an optimistic estimate). */
const SHORTER_ISCHAEMIA: Record<string, string> = { B: 'A', C: 'B', D: 'C', E: 'D', F: 'E' };

/**
 * The stated SPREC code of a primary and the process facts recorded with it (`quality` keys that
 * sprec.compute.ts reads), from its times and the temperature of the box it is stored in.
 */
export function primarySprec(
  rng: Rng,
  spec: PrimarySprec,
  times: { collectedAt: Date; processedAt: Date; frozenAt: Date },
  storageTemperatureC: number | null,
): { code: string; quality: Record<string, number> } {
  const minutes = (from: Date, to: Date) => (to.getTime() - from.getTime()) / MINUTE;
  const storage =
    storageTemperatureC === null
      ? 'X'
      : longTermStorageCode(storageTemperatureC, spec.tube, { version: SPREC_VERSION });
  const p = spec.processing;
  let quality: Record<string, number> = {};
  let letters: string[];
  // Positions (1-based) a slip may change, each with the wrong letter it would state.
  const slips: [number, string | undefined][] = [];
  if (p.kind === 'snapFrozen') {
    const warm = intBetween(rng, p.warmIschaemiaMin[0], p.warmIschaemiaMin[1]);
    const cold = minutes(times.collectedAt, times.frozenAt);
    quality = { warmIschaemiaMin: warm, coldIschaemiaMin: cold };
    letters = [
      ischaemiaCode(warm, 'warm', SPREC_VERSION),
      ischaemiaCode(cold, 'cold', SPREC_VERSION),
      'SNP',
      // Fixation time does not apply to snap freezing.
      'N',
      storage,
    ];
    slips.push([3, SHORTER_ISCHAEMIA[letters[0]!]], [4, SHORTER_ISCHAEMIA[letters[1]!]]);
  } else {
    const delay = minutes(times.collectedAt, times.processedAt);
    if (p.kind === 'unspun') {
      letters = [preCentrifugationCode(delay, 'RT', SPREC_VERSION), 'N', 'N', 'N', storage];
    } else {
      const onIce = rng() < p.onIceShare;
      quality = { ...(onIce ? { preCentrifugationTempC: 4 } : {}), ...CSF_RUN, postCentrifugationTempC: 4 };
      letters = [
        preCentrifugationCode(delay, onIce ? '2-10C' : 'RT', SPREC_VERSION),
        centrifugationCode(
          {
            speedG: CSF_RUN.centrifugationG,
            durationMinutes: CSF_RUN.centrifugationMin,
            temperature: '2-10C',
            brake: true,
          },
          SPREC_VERSION,
          'first',
        ),
        'N',
        postCentrifugationCode(minutes(times.processedAt, times.frozenAt), '2-10C', SPREC_VERSION),
        storage,
      ];
      // Post-centrifugation stated at room temperature although the tube stayed cold.
      slips.push([6, OTHER_TEMPERATURE[letters[3]!]]);
    }
    // The SOP's "<2 h at RT" stated whatever the delay, or the transport temperature misrecorded.
    slips.push([3, letters[0] === 'A' ? OTHER_TEMPERATURE.A : 'A'], [3, OTHER_TEMPERATURE[letters[0]!]]);
  }
  slips.push([7, OTHER_STORAGE[storage]]);
  if (rng() < SPREC_SLIP_RATE) {
    const possible = slips.filter(
      (s): s is [number, string] =>
        s[1] !== undefined && s[1] !== letters[s[0] - 3] && letters[s[0] - 3] !== 'X',
    );
    const slip = possible.length ? possible[Math.floor(rng() * possible.length)] : undefined;
    if (slip) letters[slip[0] - 3] = slip[1];
  }
  return { code: `${spec.head}-${letters.join('-')}`, quality };
}
