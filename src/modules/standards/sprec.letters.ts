// ISBER SPREC (v2.0 2012, v3.0 2018, v4.0 2024): the letter each pre-analytical element takes
// for recorded times, temperatures and centrifugation runs. Pure functions over sprec.vocabulary.ts.
//
// Bands follow the ISBER SPREC tables and are half-open on elapsed time: "<2 h" is a delay under
// 120 min, "2–4 h" is 120 min up to (not including) 240 min, ">48 h" is 2880 min or more. A value
// on a shared boundary therefore belongs to the later band. A combination the table does not list
// (e.g. 35–38 °C for 3 h, ≥3000 g without brake) is "other" (Z); missing input is unknown (X).
// Negative or non-finite durations and speeds are caller bugs and throw RangeError.

import {
  SPREC_PROCESSING_TEMPERATURE_RANGES,
  SPREC_PROCESSING_TEMPERATURES,
  SPREC_VOCABULARY,
  isInSprecRange,
  type SprecCentrifugationData,
  type SprecDelayData,
  type SprecDurationData,
  type SprecEntry,
  type SprecLongTermContainerKind,
  type SprecProcessingTemperature,
  type SprecStorageProtocol,
  type SprecVersion,
} from './sprec.vocabulary.js';

export type SprecTemperatureInput = SprecProcessingTemperature | 'other' | null;

function assertMeasure(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite non-negative number, got ${value}`);
  }
}

function valueEntries<D>(entries: readonly SprecEntry<D>[]): { code: string; data: D }[] {
  const out: { code: string; data: D }[] = [];
  for (const entry of entries) {
    if (entry.sentinel === null) out.push({ code: entry.code, data: entry.data });
  }
  return out;
}

function delayCode(
  entries: readonly SprecEntry<SprecDelayData>[],
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
): string {
  if (delayMinutes === null || temperature === null) return 'X';
  assertMeasure('delayMinutes', delayMinutes);
  if (temperature === 'other') return 'Z';
  const match = valueEntries(entries).find(
    ({ data }) => data.temperature === temperature && isInSprecRange(delayMinutes, data.delayMinutes),
  );
  return match?.code ?? 'Z';
}

/**
 * Pre-centrifugation letter (ISBER SPREC v2.0+): delay from collection to centrifugation at RT,
 * 2–10 °C or 35–38 °C. 90 min at RT → A; 5 h at RT → E; 35–38 °C exists only for <2 h (O).
 */
export function preCentrifugationCode(
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
  version: SprecVersion,
): string {
  return delayCode(SPREC_VOCABULARY[version].fluid.preCentrifugation, delayMinutes, temperature);
}

/**
 * Post-centrifugation letter (ISBER SPREC v2.0+): delay from centrifugation to storage. The
 * table lists 2–10 °C before RT (A = 2–10 °C <1 h, B = RT <1 h). Use 'N' when nothing was spun.
 */
export function postCentrifugationCode(
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
  version: SprecVersion,
): string {
  return delayCode(SPREC_VOCABULARY[version].fluid.postCentrifugation, delayMinutes, temperature);
}

export interface SprecCentrifugationRun {
  speedG: number | null;
  temperature: SprecTemperatureInput;
  durationMinutes: number | null;
  brake: boolean | null;
}

/**
 * Centrifugation letter (ISBER SPREC v2.0/v3.0 table). Speed bands are half-open (<3000 g,
 * 3000 to <6000 g, 6000 to <10 000 g, ≥10 000 g); A–J are 10–15 min runs (inclusive), M is a
 * 30 min RT run below 1000 g without brake and exists for the first centrifugation only.
 * 'none' → N, null → X. SPREC 4.0's extra runs are not verified here and come out as Z.
 */
export function centrifugationCode(
  run: SprecCentrifugationRun | 'none' | null,
  version: SprecVersion,
  which: 'first' | 'second' = 'first',
): string {
  if (run === 'none') return 'N';
  if (run === null) return 'X';
  const { speedG, temperature, durationMinutes, brake } = run;
  if (speedG === null || temperature === null || durationMinutes === null || brake === null) return 'X';
  assertMeasure('speedG', speedG);
  assertMeasure('durationMinutes', durationMinutes);
  if (temperature === 'other') return 'Z';
  const table =
    which === 'first'
      ? SPREC_VOCABULARY[version].fluid.centrifugation
      : SPREC_VOCABULARY[version].fluid.secondCentrifugation;
  const match = valueEntries<SprecCentrifugationData>(table).find(
    ({ data }) =>
      data.temperature === temperature &&
      data.brake === brake &&
      isInSprecRange(speedG, data.speedG) &&
      isInSprecRange(durationMinutes, data.durationMinutes),
  );
  return match?.code ?? 'Z';
}

export interface SprecLongTermStorageOptions {
  /** Defaults to 'standard' (placed directly at the storage temperature). */
  protocol?: SprecStorageProtocol;
  /** Letters common to all versions are used when omitted; computation never yields U. */
  version?: SprecVersion;
}

/**
 * Long-term storage letter (ISBER SPREC v2.0+, shared by fluid and solid). Temperature bands are
 * inclusive: −85 to −60 °C, −35 to −18 °C, ≤−135 °C (liquid nitrogen), 2–10 °C and 15–25 °C (RT).
 * Temperatures between bands → Z; unknown temperature or container → X.
 */
export function longTermStorageCode(
  storageTemperatureC: number | null,
  containerKind?: SprecLongTermContainerKind | null,
  opts: SprecLongTermStorageOptions = {},
): string {
  if (storageTemperatureC === null || containerKind === undefined || containerKind === null) return 'X';
  if (!Number.isFinite(storageTemperatureC)) {
    throw new RangeError(`storageTemperatureC must be finite, got ${storageTemperatureC}`);
  }
  const protocol = opts.protocol ?? 'standard';
  const match = valueEntries(SPREC_VOCABULARY[opts.version ?? '2.0'].fluid.longTermStorage).find(
    ({ data }) =>
      data.container === containerKind &&
      data.protocol === protocol &&
      data.temperaturesC.some((range) => isInSprecRange(storageTemperatureC, range)),
  );
  return match?.code ?? 'Z';
}

function durationCode(
  entries: readonly SprecEntry<SprecDurationData>[],
  minutes: number | null,
  name: string,
): string {
  if (minutes === null) return 'X';
  assertMeasure(name, minutes);
  const match = valueEntries(entries).find(({ data }) => isInSprecRange(minutes, data.durationMinutes));
  return match?.code ?? 'Z';
}

/**
 * Warm or cold ischaemia letter from the ISBER SPREC v2.0 bands (<2, 2–10, 10–20, 20–30, 30–60,
 * >60 min). v3.0 revised these ranges; the revision is not verified here, so v3.0/v4.0 use the
 * v2.0 bands. Use 'N' when not applicable.
 */
export function ischaemiaCode(minutes: number | null, which: 'warm' | 'cold', version: SprecVersion): string {
  const solid = SPREC_VOCABULARY[version].solid;
  return durationCode(which === 'warm' ? solid.warmIschaemia : solid.coldIschaemia, minutes, 'minutes');
}

/**
 * Fixation time letter (ISBER SPREC v2.0): <15 min, 15 min–1 h, 1–4 h, 4–8 h, 8–24 h, 24–48 h,
 * 48–72 h. 72 h or more is not in the table and yields Z.
 */
export function fixationTimeCode(minutes: number | null, version: SprecVersion): string {
  return durationCode(SPREC_VOCABULARY[version].solid.fixationTime, minutes, 'minutes');
}

/**
 * Maps a measured processing temperature to a SPREC band (RT taken as 15–25 °C, see
 * SPREC_PROCESSING_TEMPERATURE_RANGES); outside every band → 'other', unknown → null.
 */
export function classifyProcessingTemperature(celsius: number | null): SprecTemperatureInput {
  if (celsius === null) return null;
  if (!Number.isFinite(celsius)) throw new RangeError(`celsius must be finite, got ${celsius}`);
  const band = SPREC_PROCESSING_TEMPERATURES.find((name) =>
    isInSprecRange(celsius, SPREC_PROCESSING_TEMPERATURE_RANGES[name]),
  );
  return band ?? 'other';
}
