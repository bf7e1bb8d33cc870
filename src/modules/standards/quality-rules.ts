// A protocol's quality rules (DESIGN.md section 4): the metrics and fields a rule may name, the
// normalisation a ruleset goes through before it is saved, and the evaluation of one rule on one
// specimen (check code rule.<id>). Pure: no I/O.

import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import { SPREC_PROCESS_FIELDS, formatMinutes } from './sprec.compute.js';
import type { RuleProblem } from './standards.errors.js';
import type { QualityRule, QualityRuleInput } from './standards.schemas.js';
import type { CheckResult, SpecimenFacts } from './standards.rules.js';
import type { QcOutcome } from './standards.table.js';

/** Quality metrics rules may name (`specimen.quality` keys), with their meaning. */
export const QUALITY_METRICS = {
  rin: 'RNA integrity number (1–10)',
  rqn: 'RNA quality number (1–10)',
  din: 'DNA integrity number (1–10)',
  dv200: 'RNA fragments longer than 200 nt, %',
  concentrationNgUl: 'concentration, ng/µL',
  a260a280: 'absorbance ratio 260/280 nm',
  a260a230: 'absorbance ratio 260/230 nm',
  yieldUg: 'total yield, µg',
  volumeUl: 'volume, µL',
  viabilityPct: 'viable cells, %',
  cellCount: 'cell count',
  haemolysisIndex: 'haemolysis index',
  tumourCellPct: 'tumour cell content, %',
  necrosisPct: 'necrosis, %',
  ...SPREC_PROCESS_FIELDS,
} as const;

/** Fields a `requiredFields` rule may name, besides `quality.<metric>`. */
export const REQUIRED_FIELDS = {
  collectedAt: 'collection time',
  receivedAt: 'receipt time',
  processedAt: 'processing time',
  frozenAt: 'freezing time',
  anatomicSite: 'anatomic site',
  pathologyStatus: 'pathology status (other than unknown)',
  sprecCode: 'stated SPREC code',
  participantId: 'donor',
  protocolId: 'collection protocol',
  location: 'storage location',
  'donor.sex': 'donor sex (other than unknown)',
  'donor.birthYear': 'donor birth year',
  'donor.diagnoses': 'at least one donor diagnosis',
} as const;

export const isKnownMetric = (m: string): m is keyof typeof QUALITY_METRICS =>
  Object.prototype.hasOwnProperty.call(QUALITY_METRICS, m);
export const isKnownRequiredField = (f: string): boolean =>
  Object.prototype.hasOwnProperty.call(REQUIRED_FIELDS, f) ||
  (f.startsWith('quality.') && isKnownMetric(f.slice('quality.'.length)));

const defaultRuleId = (r: QualityRuleInput) =>
  r.kind === 'qualityMetric' ? `${r.kind}.${r.metric}` : r.kind;

/**
 * Gives every rule an id (explicit, else derived from its kind, numbered when repeated) and
 * reports each unknown metric or field with its path. Problems mean the ruleset is refused.
 */
export function normalizeRules(inputs: readonly QualityRuleInput[]): {
  rules: QualityRule[];
  problems: RuleProblem[];
} {
  const problems: RuleProblem[] = [];
  const explicit = new Set<string>();
  inputs.forEach((r, i) => {
    if (r.id === undefined) return;
    if (explicit.has(r.id))
      problems.push({
        field: `rules.${i}.id`,
        message: `rule id ${r.id} is used twice`,
        code: 'DUPLICATE_RULE_ID',
      });
    explicit.add(r.id);
  });
  const taken = new Set(explicit);
  const rules = inputs.map((r, i): QualityRule => {
    if (r.kind === 'qualityMetric' && !isKnownMetric(r.metric)) {
      problems.push({
        field: `rules.${i}.metric`,
        message: `unknown quality metric '${r.metric}'; known: ${Object.keys(QUALITY_METRICS).join(', ')}`,
        code: 'UNKNOWN_RULE_FIELD',
      });
    }
    if (r.kind === 'requiredFields') {
      r.fields.forEach((f, j) => {
        if (!isKnownRequiredField(f))
          problems.push({
            field: `rules.${i}.fields.${j}`,
            message: `unknown field '${f}'; known: ${Object.keys(REQUIRED_FIELDS).join(', ')}, quality.<metric>`,
            code: 'UNKNOWN_RULE_FIELD',
          });
      });
    }
    if (r.id !== undefined) return { ...r, id: r.id };
    const base = defaultRuleId(r);
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
    taken.add(id);
    return { ...r, id };
  });
  return { rules, problems };
}

const appliesTo = (rule: QualityRule, type: SpecimenType) => !rule.types || rule.types.includes(type);

function isPresent(f: SpecimenFacts, field: string): boolean {
  if (field.startsWith('quality.')) return typeof f.quality[field.slice('quality.'.length)] === 'number';
  switch (field) {
    case 'collectedAt':
      return f.collectedAt !== null;
    case 'receivedAt':
      return f.receivedAt !== null;
    case 'processedAt':
      return f.processedAt !== null;
    case 'frozenAt':
      return f.frozenAt !== null;
    case 'anatomicSite':
      return !!f.anatomicSite;
    case 'pathologyStatus':
      return f.pathologyStatus !== 'unknown';
    case 'sprecCode':
      return !!f.sprecCode;
    case 'participantId':
      return f.participantId !== null;
    case 'protocolId':
      return f.protocolId !== null;
    case 'location':
      return f.containerId !== null;
    case 'donor.sex':
      return !!f.donor && f.donor.sex !== 'unknown';
    case 'donor.birthYear':
      return f.donor?.birthYear != null;
    case 'donor.diagnoses':
      return (f.donor?.diagnoses.length ?? 0) > 0;
    default:
      return false;
  }
}

/** One protocol rule on one specimen; null when the rule does not apply (type, not stored). */
export function ruleCheck(f: SpecimenFacts, rule: QualityRule, version: number): CheckResult | null {
  if (!appliesTo(rule, f.type)) return null;
  const check = `rule.${rule.id}`;
  const out = (
    outcome: QcOutcome,
    message: string,
    details: Record<string, unknown> | null = null,
  ): CheckResult => ({
    check,
    outcome,
    message,
    details,
    rulesetVersion: version,
    hold: outcome === 'fail' && rule.holdOnFailure,
  });
  const broken = (message: string, details: Record<string, unknown> | null = null) =>
    out(rule.severity, message, details);
  switch (rule.kind) {
    case 'maxTimeToFreezing': {
      // An aliquot shares its parent's history up to the split: the parent's freezing counts.
      const frozenAt = f.frozenAt ?? f.source?.frozenAt ?? null;
      if (!f.collectedAt || !frozenAt)
        return out(
          rule.whenMissing,
          `time to freezing unknown: ${f.collectedAt ? 'freezing' : 'collection'} time not recorded`,
        );
      const minutes = (frozenAt.getTime() - f.collectedAt.getTime()) / 60_000;
      if (minutes < 0) return out(rule.whenMissing, 'time to freezing unknown: frozen before collected');
      const limit = rule.maxHours * 60;
      return minutes > limit
        ? broken(
            `frozen ${formatMinutes(minutes)} after collection; the protocol allows ${rule.maxHours} h`,
            {
              minutes: Math.round(minutes),
              maxHours: rule.maxHours,
            },
          )
        : out('pass', `frozen ${formatMinutes(minutes)} after collection (at most ${rule.maxHours} h)`);
    }
    case 'maxFreezeThaw':
      return f.freezeThawCount > rule.max
        ? broken(`${f.freezeThawCount} freeze-thaw cycles; the protocol allows ${rule.max}`, {
            freezeThawCount: f.freezeThawCount,
            max: rule.max,
          })
        : out('pass', `${f.freezeThawCount} freeze-thaw cycles (at most ${rule.max})`);
    case 'qualityMetric': {
      const v = f.quality[rule.metric];
      if (typeof v !== 'number') return out(rule.whenMissing, `${rule.metric} not recorded`);
      const bounds = [
        rule.min !== undefined ? `at least ${rule.min}` : null,
        rule.max !== undefined ? `at most ${rule.max}` : null,
      ]
        .filter(Boolean)
        .join(' and ');
      const low = rule.min !== undefined && v < rule.min;
      const high = rule.max !== undefined && v > rule.max;
      return low || high
        ? broken(`${rule.metric} ${v} is ${low ? 'below' : 'above'} the protocol's ${bounds}`, {
            metric: rule.metric,
            value: v,
            ...(rule.min !== undefined ? { min: rule.min } : {}),
            ...(rule.max !== undefined ? { max: rule.max } : {}),
          })
        : out('pass', `${rule.metric} ${v} (${bounds})`);
    }
    case 'storageTemperature': {
      if (f.containerId === null) return null;
      const t = f.storageTemperatureC;
      if (t === null) return out(rule.whenMissing, 'storage temperature not recorded for the container');
      return t < rule.minC || t > rule.maxC
        ? broken(`stored at ${t} °C; the protocol allows ${rule.minC} to ${rule.maxC} °C for ${f.type}`, {
            temperatureC: t,
            minC: rule.minC,
            maxC: rule.maxC,
          })
        : out('pass', `stored at ${t} °C (${rule.minC} to ${rule.maxC} °C)`);
    }
    case 'requiredFields': {
      const missing = rule.fields.filter((field) => !isPresent(f, field));
      return missing.length
        ? broken(`required fields missing: ${missing.join(', ')}`, { missing })
        : out('pass', `required fields present: ${rule.fields.join(', ')}`);
    }
  }
}
