// Standardization checks as pure functions (DESIGN.md section 4): the facts about one specimen in,
// its check results out. The same evaluation serves the per-specimen worker job and the batch run;
// only the way facts are loaded differs (see qc-facts.read-model.ts and qc-recorder.ts).
//
// Check codes:
//   sprec.code       the stated SPREC code decodes in its version, with the grammar of the type
//   sprec.record     the stated code agrees with the code the record implies (sprec.compute.ts)
//   miabis.sample    MIABIS individual-level sample attributes present
//   miabis.donor     MIABIS sample donor attributes present
//   custody.chain    ISO 20387 traceability: the custody chain is unbroken from its first event
//                    to the specimen's current location
//   consent.on_file  a consent is on file for the donor under the protocol (specimens with a donor)
//   rule.<id>        the protocol's quality rules (quality-rules.ts), versioned

import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import { checkMiabisDonor, checkMiabisSample } from './miabis.js';
import { ruleCheck } from './quality-rules.js';
import { decodeSprec, type SprecDecodeResult, type SprecDecodeSuccess } from './sprec.js';
import {
  DEFAULT_SPREC_VERSION,
  compareSprec,
  computeSprec,
  describeDisagreement,
  sprecKindOf,
  type SprecRecord,
} from './sprec.compute.js';
import { SPREC_VERSIONS, isSprecVersion, type SprecKind, type SprecVersion } from './sprec.vocabulary.js';
import type { QualityRule } from './standards.schemas.js';
import type { QcOutcome } from './standards.table.js';

export interface CustodySummary {
  /** events in the ledger */
  events: number;
  minSeq: number | null;
  maxSeq: number | null;
  /** every event's previous hash is the hash of the event before it */
  linked: boolean;
  /** hash of the last event */
  head: string | null;
  firstType: string | null;
  /** the last location an event moved the specimen to */
  lastToContainerId: string | null;
  /** full recomputation of every hash (single-specimen checks only; null in batch runs) */
  verified: { valid: boolean; reason: string | null } | null;
}

export interface SpecimenFacts {
  id: string;
  barcode: string;
  institutionId: string;
  version: number;
  type: SpecimenType;
  lineage: 'primary' | 'aliquot' | 'derivative';
  status: string;
  holds: readonly string[];
  participantId: string | null;
  protocolId: string | null;
  anatomicSite: string | null;
  pathologyStatus: string;
  collectedAt: Date | null;
  receivedAt: Date | null;
  processedAt: Date | null;
  frozenAt: Date | null;
  sprecCode: string | null;
  sprecVersion: string | null;
  quality: Readonly<Record<string, number>>;
  freezeThawCount: number;
  containerId: string | null;
  /** temperature of the container holding the specimen (nearest container with one) */
  storageTemperatureC: number | null;
  custodySeq: number;
  custodyHead: string | null;
  custody: CustodySummary;
  donor: { sex: string; birthYear: number | null; diagnoses: readonly string[] } | null;
  /** the current consent for the donor under the protocol; null when none is on file */
  consent: { status: 'active' | 'withdrawn' | 'expired'; expiresOn: string | null } | null;
  /** aliquots: the ancestor SPREC positions 1-6 come from (see sprec.compute.ts) */
  source: (SprecRecord & { sprecCode: string | null; sprecVersion: string | null }) | null;
  /** the lineage root's stated code */
  root: { sprecCode: string | null; sprecVersion: string | null } | null;
}

export interface Ruleset {
  protocolId: string;
  version: number;
  rules: readonly QualityRule[];
}

export interface CheckResult {
  check: string;
  outcome: QcOutcome;
  message: string;
  details: Record<string, unknown> | null;
  /** ruleset version for rule checks, null for built-in checks */
  rulesetVersion: number | null;
  /** the failure places a QC_FAILED hold */
  hold: boolean;
}

export type SprecDecoder = (code: string, version: SprecVersion, kind: SprecKind) => SprecDecodeResult;

export interface EvaluateOptions {
  /** today, YYYY-MM-DD, for consent expiry */
  today: string;
  /** a memoised decoder for batch runs (codes repeat) */
  decode?: SprecDecoder;
}

const RANK: Record<QcOutcome, number> = { pass: 0, warn: 1, fail: 2 };

/** The specimen's QC status: the worst current result, `unchecked` when there is none. */
export function worstOutcome(results: readonly { outcome: QcOutcome }[]): QcOutcome | 'unchecked' {
  let worst: QcOutcome | 'unchecked' = 'unchecked';
  for (const r of results) if (worst === 'unchecked' || RANK[r.outcome] > RANK[worst]) worst = r.outcome;
  return worst;
}

/** A decoder that remembers the codes it has seen (a run sees a handful of distinct codes). */
export function memoDecoder(limit = 10_000): SprecDecoder {
  const memo = new Map<string, SprecDecodeResult>();
  return (code, version, kind) => {
    const key = `${version}|${kind}|${code}`;
    let r = memo.get(key);
    if (!r) {
      r = decodeSprec(code, version, { expectedKind: kind });
      if (memo.size >= limit) memo.clear();
      memo.set(key, r);
    }
    return r;
  };
}

const defaultDecoder: SprecDecoder = (code, version, kind) =>
  decodeSprec(code, version, { expectedKind: kind });

function result(
  check: string,
  outcome: QcOutcome,
  message: string,
  details: Record<string, unknown> | null = null,
): CheckResult {
  return { check, outcome, message, details, rulesetVersion: null, hold: false };
}

function validDecode(
  code: string | null,
  version: string | null,
  kind: SprecKind,
  decode: SprecDecoder,
): SprecDecodeSuccess | null {
  if (!code) return null;
  const v = version ?? DEFAULT_SPREC_VERSION;
  if (!isSprecVersion(v)) return null;
  const r = decode(code, v, kind);
  return r.valid ? r : null;
}

function sprecChecks(f: SpecimenFacts, decode: SprecDecoder): CheckResult[] {
  const kind = sprecKindOf(f.type);
  if (!kind) {
    return f.sprecCode
      ? [
          result(
            'sprec.code',
            'warn',
            `SPREC does not code extracted analytes (${f.type}); the stated code ${f.sprecCode} is not checked`,
          ),
        ]
      : [];
  }
  const versionText = f.sprecVersion ?? DEFAULT_SPREC_VERSION;
  const version: SprecVersion = isSprecVersion(versionText) ? versionText : DEFAULT_SPREC_VERSION;
  let stated: SprecDecodeSuccess | null = null;
  const out: CheckResult[] = [];
  if (!f.sprecCode) {
    // Computed below; reported with the missing code.
  } else if (!isSprecVersion(versionText)) {
    out.push(
      result(
        'sprec.code',
        'fail',
        `SPREC version '${versionText}' is not supported (supported: ${SPREC_VERSIONS.join(', ')})`,
      ),
    );
  } else {
    const decoded = decode(f.sprecCode, version, kind);
    if (decoded.valid) {
      stated = decoded;
      out.push(result('sprec.code', 'pass', `${f.sprecCode} is a valid ${kind} code in SPREC ${version}`));
    } else {
      const first = decoded.errors[0];
      const where = first?.position ? `position ${first.position} (character ${first.charStart}): ` : '';
      out.push(
        result(
          'sprec.code',
          'fail',
          `${f.sprecCode} is not a valid ${kind} code in SPREC ${version}: ${where}${first?.reason ?? 'invalid'}`,
          { errors: decoded.errors },
        ),
      );
    }
  }

  const source = f.lineage === 'aliquot' && f.source ? f.source : null;
  const computed = computeSprec({
    record: f,
    stated,
    storageTemperatureC: f.storageTemperatureC,
    source: source
      ? { record: source, stated: validDecode(source.sprecCode, source.sprecVersion, kind, decode) }
      : null,
    root: f.root ? validDecode(f.root.sprecCode, f.root.sprecVersion, 'fluid', decode) : null,
    version,
  });
  if (!computed) return out;
  if (!f.sprecCode) {
    out.push(
      result('sprec.code', 'warn', `no SPREC code stated; the record implies ${computed.code}`, {
        computed: computed.code,
      }),
    );
    return out;
  }
  if (!stated) return out;
  const cmp = compareSprec(stated, computed);
  const details = {
    stated: stated.code,
    computed: computed.code,
    version,
    compared: cmp.compared,
    unknown: cmp.unknown,
    ...(cmp.disagreements.length ? { disagreements: cmp.disagreements } : {}),
    ...(computed.notes.length ? { notes: computed.notes } : {}),
  };
  if (cmp.disagreements.length) {
    out.push(
      result(
        'sprec.record',
        'fail',
        `${stated.code} disagrees with the record (${computed.code}) at ${cmp.disagreements
          .map((d) => d.position)
          .join(', ')}: ${cmp.disagreements.map(describeDisagreement).join('; ')}`,
        details,
      ),
    );
  } else if (computed.notes.length) {
    out.push(
      result('sprec.record', 'warn', `the record is inconsistent: ${computed.notes.join('; ')}`, details),
    );
  } else {
    // The message names both codes; no details to store for the common case.
    out.push(
      result(
        'sprec.record',
        'pass',
        `${stated.code} agrees with the record (${computed.code}): ${cmp.compared} positions compared, ${cmp.unknown} unknown`,
      ),
    );
  }
  return out;
}

const CREATION_EVENTS: ReadonlySet<string> = new Set(['registered', 'collected', 'created_from_parent']);

function custodyCheck(f: SpecimenFacts): CheckResult {
  const c = f.custody;
  const fail = (message: string) => result('custody.chain', 'fail', message);
  if (c.events === 0) return fail('no custody events: the chain of custody is missing');
  if (c.minSeq !== 1 || c.maxSeq !== c.events)
    return fail(
      `the custody chain has a gap: ${c.events} events numbered ${c.minSeq ?? '?'} to ${c.maxSeq ?? '?'}`,
    );
  if (c.events !== f.custodySeq)
    return fail(`the specimen records ${f.custodySeq} custody events but the ledger holds ${c.events}`);
  if (c.head !== f.custodyHead)
    return fail('the last custody event is not the chain head the specimen records');
  if (!c.linked) return fail('a custody event does not link to the hash of the event before it');
  if (c.firstType === null || !CREATION_EVENTS.has(c.firstType))
    return fail(
      `the custody chain starts with ${c.firstType ?? 'nothing'}, not with the collection or registration`,
    );
  if (c.verified && !c.verified.valid)
    return fail(`the custody chain does not verify: ${c.verified.reason ?? 'hash mismatch'}`);
  if (f.containerId !== null && c.lastToContainerId !== f.containerId) {
    return fail(
      c.lastToContainerId
        ? `the custody chain ends in container ${c.lastToContainerId}, but the specimen is in ${f.containerId}`
        : `no custody event records the specimen's move into container ${f.containerId}`,
    );
  }
  return result(
    'custody.chain',
    'pass',
    `${c.events} custody events, unbroken from ${c.firstType} to the current location` +
      (c.verified ? '; every hash recomputed' : '; sequence, links and head checked'),
  );
}

function consentCheck(f: SpecimenFacts, today: string): CheckResult | null {
  if (!f.participantId) return null;
  const c = f.consent;
  if (!c) return result('consent.on_file', 'fail', 'no consent on file for the donor under this protocol');
  if (c.status === 'withdrawn') return result('consent.on_file', 'warn', 'the consent on file is withdrawn');
  if (c.status === 'expired' || (c.expiresOn !== null && c.expiresOn <= today))
    return result(
      'consent.on_file',
      'warn',
      `the consent on file expired${c.expiresOn ? ` on ${c.expiresOn}` : ''}`,
    );
  return result('consent.on_file', 'pass', 'an active consent is on file');
}

/**
 * Every check on one specimen. Checks that do not apply (no SPREC for extracted analytes, no
 * consent check without a donor, rules for other types) give no result, so a re-check removes
 * results that stopped applying.
 */
export function evaluateSpecimen(
  f: SpecimenFacts,
  ruleset: Ruleset | null,
  opts: EvaluateOptions,
): CheckResult[] {
  const decode = opts.decode ?? defaultDecoder;
  const out = sprecChecks(f, decode);
  const sample = checkMiabisSample(f);
  out.push(
    result(
      'miabis.sample',
      sample.outcome,
      sample.message,
      sample.missing.length ? { missing: sample.missing } : null,
    ),
  );
  const donor = checkMiabisDonor(f);
  out.push(
    result(
      'miabis.donor',
      donor.outcome,
      donor.message,
      donor.missing.length ? { missing: donor.missing } : null,
    ),
  );
  out.push(custodyCheck(f));
  const consent = consentCheck(f, opts.today);
  if (consent) out.push(consent);
  if (ruleset) {
    for (const rule of ruleset.rules) {
      const r = ruleCheck(f, rule, ruleset.version);
      if (r) out.push(r);
    }
  }
  return out;
}
