// The catalogue's in-memory snapshot: the catalogue facts of every institution (read model
// catalogue-facts) as typed columns, so one catalogue question is one pass over arrays instead of
// a scan of the specimen table (over a million tubes, PostgreSQL needs seconds; the pass takes
// milliseconds, BENCHMARKS.md). The snapshot is rebuilt when older than the configured age, and
// when the UTC day changes (consent expiry is judged by the day): the freshness trade-off is in
// the README, "Sharing between institutions".
import type { Clock } from '../../clock.js';
import { utcDay } from '../../clock.js';
import type { Log } from '../../context.js';
import { DISEASE_AREAS } from '../../vocabulary/disease-areas.js';
import { icd10ChapterOf, ICD10_CHAPTER_NUMERALS } from '../../vocabulary/icd10-chapters.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../../vocabulary/specimen-types.js';
import { SEXES } from '../participants/index.js';
import { MIABIS_STORAGE_TEMPERATURES, miabisStorageTemperature } from '../standards/index.js';
import type { CatalogueFacts } from './catalogue-facts.read-model.js';

/** Column i of every array describes fact row i; `-1` (or 0 for letters) means unknown. */
export interface CatalogueSnapshot {
  /** when the facts were read */
  asOf: Date;
  /** the UTC day consent was judged on */
  day: string;
  size: number;
  providerIds: string[];
  /** the rows of each provider: [start, end) */
  ranges: Map<string, { provider: number; start: number; end: number }>;
  provider: Uint16Array;
  donor: Int32Array;
  root: Int32Array;
  type: Uint8Array;
  unit: Uint8Array;
  quantity: Float64Array;
  freezeThaw: Int32Array;
  /** SPREC letters as char codes */
  preCentrifugation: Uint8Array;
  longTermStorage: Uint8Array;
  qcPassed: Uint8Array;
  /** index in MIABIS_STORAGE_TEMPERATURES */
  storageTemperature: Int8Array;
  collectedYear: Int32Array;
  /** age at collection in years; -1 when unknown (or before birth) */
  age: Int32Array;
  site: Int32Array;
  sites: string[];
  /** index in DISEASE_AREAS */
  diseaseArea: Int8Array;
  /** bit i: consent permits USES[i] */
  uses: Uint8Array;
  donors: {
    /** index in SEXES */
    sex: Int8Array;
    /** upper-case ICD-10 codes, as the criteria compare them */
    diagnoses: string[][];
    /** indexes in `diagnosisCodes` and ICD10_CHAPTER_NUMERALS, each listed once */
    codeIds: Int32Array[];
    chapterIds: Int32Array[];
    /** bit i: a diagnosis in chapter ICD10_CHAPTER_NUMERALS[i] */
    chapterMask: Uint32Array;
  };
  diagnosisCodes: string[];
}

const indexer = (values: readonly string[]) => {
  const map = new Map(values.map((v, i) => [v, i]));
  return (v: string | null) => (v === null ? -1 : (map.get(v) ?? -1));
};
const typeIndex = indexer(SPECIMEN_TYPES);
const unitIndex = indexer(SPECIMEN_UNITS);
const sexIndex = indexer(SEXES);
const areaIndex = indexer(DISEASE_AREAS);
const temperatureIndex = indexer(MIABIS_STORAGE_TEMPERATURES);
const chapterIndex = indexer(ICD10_CHAPTER_NUMERALS);

/** Interns strings to dense numbers, keeping the list. */
function interner() {
  const ids = new Map<string, number>();
  const list: string[] = [];
  return {
    list,
    id(v: string) {
      let id = ids.get(v);
      if (id === undefined) {
        id = list.length;
        ids.set(v, id);
        list.push(v);
      }
      return id;
    },
  };
}

const CHUNK = 20_000;

function layOut(facts: CatalogueFacts, asOf: Date, day: string) {
  const { rows } = facts;
  const n = rows.length;
  const areaOf = new Map(facts.protocols.map((p) => [p.id, areaIndex(p.disease_area)]));
  const codes = interner();
  const donorIds = new Map<string, number>();
  const sex = new Int8Array(facts.donors.length);
  const birthYear: (number | null)[] = [];
  const diagnoses: string[][] = [];
  const codeIds: Int32Array[] = [];
  const chapterIds: Int32Array[] = [];
  const chapterMask = new Uint32Array(facts.donors.length);
  facts.donors.forEach((d, i) => {
    donorIds.set(d.id, i);
    sex[i] = sexIndex(d.sex);
    birthYear.push(d.birth_year);
    const upper = [...new Set(d.diagnoses.map((x) => x.toUpperCase()))];
    diagnoses.push(upper);
    codeIds.push(Int32Array.from(upper.map((x) => codes.id(x))));
    const chapters = new Set(upper.map((x) => chapterIndex(icd10ChapterOf(x))).filter((x) => x >= 0));
    chapterIds.push(Int32Array.from(chapters));
    for (const ch of chapters) chapterMask[i]! |= 1 << ch;
  });
  const sites = interner();
  const s: CatalogueSnapshot = {
    asOf,
    day,
    size: n,
    providerIds: [],
    ranges: new Map(),
    provider: new Uint16Array(n),
    donor: new Int32Array(n),
    root: new Int32Array(n),
    type: new Uint8Array(n),
    unit: new Uint8Array(n),
    quantity: new Float64Array(n),
    freezeThaw: new Int32Array(n),
    preCentrifugation: new Uint8Array(n),
    longTermStorage: new Uint8Array(n),
    qcPassed: new Uint8Array(n),
    storageTemperature: new Int8Array(n),
    collectedYear: new Int32Array(n),
    age: new Int32Array(n),
    site: new Int32Array(n),
    sites: sites.list,
    diseaseArea: new Int8Array(n),
    uses: new Uint8Array(n),
    donors: { sex, diagnoses, codeIds, chapterIds, chapterMask },
    diagnosisCodes: codes.list,
  };
  return { s, fill: fillRows(s, rows, { donorIds, birthYear, areaOf, sites }) };
}

/** Lays out the rows, pausing every CHUNK rows (a generator: the caller decides how to pause). */
function* fillRows(
  s: CatalogueSnapshot,
  rows: CatalogueFacts['rows'],
  dict: {
    donorIds: Map<string, number>;
    birthYear: (number | null)[];
    areaOf: Map<string, number>;
    sites: ReturnType<typeof interner>;
  },
): Generator<void, void, void> {
  // Rows come ordered by provider, donor and root: each is looked up when it changes only.
  let root = -1;
  let lastRoot = '';
  let lastProvider: string | null = null;
  let range = { provider: -1, start: 0, end: 0 };
  let lastDonor: string | null = null;
  let donor = -1;
  let lastProtocol: string | null = null;
  let area = -1;
  const temperatureClass = new Map<number | null, number>();
  for (let i = 0; i < rows.length; i++) {
    if (i % CHUNK === CHUNK - 1) yield;
    const r = rows[i]!;
    if (r.provider !== lastProvider) {
      lastProvider = r.provider;
      range = { provider: s.providerIds.length, start: i, end: i };
      s.ranges.set(r.provider, range);
      s.providerIds.push(r.provider);
    }
    range.end = i + 1;
    s.provider[i] = range.provider;
    if (r.donor !== lastDonor || i === 0) {
      lastDonor = r.donor;
      donor = r.donor === null ? -1 : (dict.donorIds.get(r.donor) ?? -1);
    }
    s.donor[i] = donor;
    if (r.root !== lastRoot) {
      root++;
      lastRoot = r.root;
    }
    s.root[i] = root;
    s.type[i] = typeIndex(r.type);
    s.unit[i] = unitIndex(r.unit);
    s.quantity[i] = Number(r.quantity);
    s.freezeThaw[i] = r.freeze_thaw;
    s.preCentrifugation[i] = r.pre_centrifugation?.charCodeAt(0) ?? 0;
    s.longTermStorage[i] = r.long_term_storage?.charCodeAt(0) ?? 0;
    s.qcPassed[i] = r.qc_passed ? 1 : 0;
    let t = temperatureClass.get(r.temperature_c);
    if (t === undefined) {
      t = temperatureIndex(miabisStorageTemperature(r.temperature_c));
      temperatureClass.set(r.temperature_c, t);
    }
    s.storageTemperature[i] = t;
    s.collectedYear[i] = r.collected_year ?? -1;
    const born = donor >= 0 ? dict.birthYear[donor] : null;
    const age =
      r.collected_year !== null && born !== null && born !== undefined ? r.collected_year - born : -1;
    s.age[i] = age >= 0 ? age : -1;
    s.site[i] = r.anatomic_site === null ? -1 : dict.sites.id(r.anatomic_site);
    if (r.protocol !== lastProtocol || i === 0) {
      lastProtocol = r.protocol;
      area = r.protocol === null ? -1 : (dict.areaOf.get(r.protocol) ?? -1);
    }
    s.diseaseArea[i] = area;
    s.uses[i] = r.uses;
  }
}

/** Lays the facts out as columns. Pure. */
export function buildSnapshot(facts: CatalogueFacts, asOf: Date, day: string): CatalogueSnapshot {
  const { s, fill } = layOut(facts, asOf, day);
  for (const _ of fill);
  return s;
}

/** The same, giving the event loop back every CHUNK rows: an API process keeps answering meanwhile. */
export async function buildSnapshotInTurns(facts: CatalogueFacts, asOf: Date, day: string) {
  const { s, fill } = layOut(facts, asOf, day);
  for (const _ of fill) await new Promise((resolve) => setImmediate(resolve));
  return s;
}

export interface SnapshotStore {
  /** A snapshot read at most `maxAgeMs` ago, on today's consent (waits for a rebuild if needed). */
  current(): Promise<CatalogueSnapshot>;
}

/**
 * Keeps one snapshot and rebuilds it lazily: an answer never comes from facts read more than
 * `maxAgeMs` before it was asked (0: read for every question). Past half that age a question is
 * answered from the snapshot at hand while a rebuild runs behind it, so steady traffic rarely
 * waits for one. One rebuild at a time serves every question that may use it.
 */
export function createSnapshotStore(deps: {
  /** the catalogue facts with consent judged on a day (readCatalogueFacts) */
  read: (today: string) => Promise<CatalogueFacts>;
  clock: Clock;
  maxAgeMs: number;
  log?: Log;
  /** monotonic milliseconds, for ages */
  now?: () => number;
}): SnapshotStore {
  const now = deps.now ?? (() => performance.now());
  const day = utcDay(deps.clock);
  let held: { snapshot: CatalogueSnapshot; readAt: number } | null = null;
  let building: { startedAt: number; day: string; done: Promise<CatalogueSnapshot> } | null = null;

  function rebuild(): Promise<CatalogueSnapshot> {
    const startedAt = now();
    const today = day();
    const done = deps
      .read(today)
      .then(async (facts) => {
        const snapshot = await buildSnapshotInTurns(facts, deps.clock(), today);
        if (!held || held.readAt <= startedAt) held = { snapshot, readAt: startedAt };
        return snapshot;
      })
      .finally(() => {
        if (building?.done === done) building = null;
      });
    building = { startedAt, day: today, done };
    return done;
  }

  return {
    async current() {
      const t = now();
      const today = day();
      if (held && held.snapshot.day === today && t - held.readAt <= deps.maxAgeMs) {
        if (t - held.readAt > deps.maxAgeMs / 2 && !building) {
          rebuild().catch((err: unknown) =>
            deps.log?.error({ err }, 'catalogue snapshot rebuild failed; the previous one stays'),
          );
        }
        return held.snapshot;
      }
      if (building && building.day === today && t - building.startedAt <= deps.maxAgeMs) return building.done;
      return rebuild();
    },
  };
}
