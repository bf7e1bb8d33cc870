import { z } from 'zod';
import { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import { QC_STATUSES, SPECIMEN_STATUSES } from '../specimens/index.js';
import { MIABIS_STORAGE_TEMPERATURES } from './miabis.js';
import { QC_OUTCOMES, RUN_STATUSES } from './standards.table.js';

// ---- SPREC decoding ----

export const sprecDecodeQuery = z.object({
  code: z.string().max(40).describe('the SPREC code, e.g. SER-SST-A-D-N-A-B'),
  version: z.string().max(8).default('3.0').describe('SPREC version the code is written in: 2.0, 3.0 or 4.0'),
  kind: z.enum(['fluid', 'solid']).optional().describe('the grammar expected (fluid or solid)'),
});
export type SprecDecodeQuery = z.infer<typeof sprecDecodeQuery>;

export const sprecDecodeDto = z.object({
  valid: z.boolean(),
  code: z.string(),
  version: z.string(),
  kind: z.enum(['fluid', 'solid']).nullable(),
  fields: z
    .array(
      z.object({
        position: z.number().int().describe('element 1..7'),
        charStart: z.number().int().describe('1-based character offset of the element'),
        name: z.string(),
        value: z.string(),
        meaning: z.string(),
        unknown: z.boolean().describe('X / XXX'),
        other: z.boolean().describe('Z / ZZZ'),
        notApplicable: z.boolean(),
      }),
    )
    .describe('empty when the code is invalid'),
  errors: z
    .array(
      z.object({
        position: z.number().int().nullable(),
        charStart: z.number().int().nullable(),
        field: z.string().nullable(),
        reason: z.string(),
      }),
    )
    .describe('empty when the code is valid'),
});

// ---- Protocol quality rules ----

const ruleId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, 'letters, digits, _ . - (max 40)');
const outcomeWhenMissing = z
  .enum(QC_OUTCOMES)
  .default('warn')
  .describe('outcome when the data the rule needs is not recorded');
const ruleBase = {
  id: ruleId
    .optional()
    .describe('stable id; the check code is `rule.<id>` (derived from the kind when absent)'),
  description: z.string().trim().max(300).optional(),
  types: z
    .array(z.enum(SPECIMEN_TYPES))
    .min(1)
    .max(SPECIMEN_TYPES.length)
    .optional()
    .describe('specimen types the rule applies to (every type when absent)'),
  severity: z.enum(['warn', 'fail']).default('fail').describe('outcome when the rule is broken'),
  holdOnFailure: z
    .boolean()
    .default(false)
    .describe('a failure places a QC_FAILED hold on the specimen (severity fail only)'),
};

const maxTimeToFreezingRule = z.strictObject({
  kind: z.literal('maxTimeToFreezing'),
  ...ruleBase,
  maxHours: z.number().positive().max(100_000).describe('collection to freezing, hours'),
  whenMissing: outcomeWhenMissing,
});
const maxFreezeThawRule = z.strictObject({
  kind: z.literal('maxFreezeThaw'),
  ...ruleBase,
  max: z.number().int().min(0).max(1000).describe('highest freeze-thaw count allowed'),
});
const qualityMetricRule = z
  .strictObject({
    kind: z.literal('qualityMetric'),
    ...ruleBase,
    metric: z.string().trim().min(1).max(60).describe('a quality metric, e.g. rin or concentrationNgUl'),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    whenMissing: outcomeWhenMissing,
  })
  .refine((r) => r.min !== undefined || r.max !== undefined, {
    message: 'give min, max or both',
    path: ['min'],
  })
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    message: 'min must not exceed max',
    path: ['max'],
  });
const storageTemperatureRule = z
  .strictObject({
    kind: z.literal('storageTemperature'),
    ...ruleBase,
    minC: z.number().min(-273).max(100),
    maxC: z.number().min(-273).max(100),
    whenMissing: outcomeWhenMissing,
  })
  .refine((r) => r.minC <= r.maxC, { message: 'minC must not exceed maxC', path: ['maxC'] });
const requiredFieldsRule = z.strictObject({
  kind: z.literal('requiredFields'),
  ...ruleBase,
  fields: z
    .array(z.string().trim().min(1).max(60))
    .min(1)
    .max(30)
    .describe('e.g. collectedAt, frozenAt, anatomicSite, donor.sex, quality.rin'),
});

export const QUALITY_RULE_KINDS = [
  'maxTimeToFreezing',
  'maxFreezeThaw',
  'qualityMetric',
  'storageTemperature',
  'requiredFields',
] as const;

export const qualityRuleInput = z.discriminatedUnion('kind', [
  maxTimeToFreezingRule,
  maxFreezeThawRule,
  qualityMetricRule,
  storageTemperatureRule,
  requiredFieldsRule,
]);
export type QualityRuleInput = z.output<typeof qualityRuleInput>;
/** A rule as stored: its id is always set. */
export type QualityRule = QualityRuleInput & { id: string };

export const putQualityRulesInput = z.strictObject({
  rules: z.array(qualityRuleInput).max(100),
});
export type PutQualityRulesInput = z.infer<typeof putQualityRulesInput>;

export const qualityRulesQuery = z.object({
  version: z.coerce.number().int().min(1).max(1_000_000).optional().describe('an earlier version'),
});

export const qualityRulesetDto = z.object({
  protocolId: z.uuid(),
  version: z.number().int().describe('0 when the protocol has no rules yet'),
  rules: z.array(z.record(z.string(), z.unknown())),
  createdBy: z.string().nullable(),
  createdAt: z.string().nullable(),
});

// ---- Results ----

export const qcResultDto = z.object({
  check: z.string(),
  outcome: z.enum(QC_OUTCOMES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
  rulesetVersion: z.number().int().nullable(),
  runId: z.uuid().nullable(),
  checkedAt: z.string(),
});

export const specimenQcDto = z.object({
  specimenId: z.uuid(),
  barcode: z.string(),
  qcStatus: z.enum(QC_STATUSES),
  results: z.array(qcResultDto),
  history: z
    .array(
      z.object({
        check: z.string(),
        previousOutcome: z.enum(QC_OUTCOMES),
        outcome: z.enum(QC_OUTCOMES),
        message: z.string(),
        rulesetVersion: z.number().int().nullable(),
        runId: z.uuid().nullable(),
        checkedAt: z.string(),
      }),
    )
    .describe('changes of outcome, newest first (at most 100)'),
});

// ---- Batch runs ----

export const runFilter = z.strictObject({
  type: z.enum(SPECIMEN_TYPES).optional(),
  protocolId: z.uuid().optional(),
  containerId: z.uuid().optional().describe('anywhere in this container’s subtree'),
  status: z.enum(SPECIMEN_STATUSES).optional(),
  qcStatus: z.enum(QC_STATUSES).optional(),
});
export type RunFilter = z.infer<typeof runFilter>;

export const startRunInput = z.strictObject({
  filter: runFilter.default({}),
});
export type StartRunInput = z.infer<typeof startRunInput>;

const outcomeCounts = z.object({ pass: z.number().int(), warn: z.number().int(), fail: z.number().int() });

export const runDto = z.object({
  id: z.uuid(),
  status: z.enum(RUN_STATUSES),
  filter: runFilter,
  total: z.number().int().nullable().describe('matching specimens when the run started'),
  processed: z.number().int(),
  progress: z.number().describe('processed / total, 0..1'),
  skipped: z.number().int().describe('changed while being checked; their own check re-runs them'),
  holdsPlaced: z.number().int(),
  specimens: outcomeCounts.describe('specimens by worst outcome'),
  checks: z
    .array(
      z.object({ check: z.string(), pass: z.number().int(), warn: z.number().int(), fail: z.number().int() }),
    )
    .describe('results by check and severity'),
  rulesets: z.array(z.object({ protocolId: z.uuid(), version: z.number().int() })),
  error: z.string().nullable(),
  requestedBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});

export const runResultsQuery = z.object({
  outcome: z.enum(QC_OUTCOMES).optional().describe('only specimens whose worst outcome in the run was this'),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const runResultItemDto = z.object({
  specimenId: z.uuid(),
  barcode: z.string(),
  type: z.enum(SPECIMEN_TYPES),
  outcome: z.enum(QC_OUTCOMES).describe('worst outcome of the specimen in this run'),
  results: z.array(qcResultDto.omit({ runId: true })),
});

export const listRunsQuery = z.object({
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

// ---- MIABIS ----

export const miabisCollectionDto = z
  .object({
    id: z.string().describe('MIABIS-COLLECTION-01'),
    acronym: z.string().describe('MIABIS-COLLECTION-02: the protocol code'),
    name: z.string().describe('MIABIS-COLLECTION-03'),
    description: z.string().describe('MIABIS-COLLECTION-06'),
    sampleSource: z.literal('Human').describe('MIABIS-COLLECTION-07'),
    sex: z.array(z.string()).describe('MIABIS-COLLECTION-08'),
    ageLow: z.number().int().nullable().describe('MIABIS-COLLECTION-09: youngest donor at donation'),
    ageHigh: z.number().int().nullable().describe('MIABIS-COLLECTION-10: oldest donor at donation'),
    ageLowUnit: z.literal('Years').nullable().describe('MIABIS-COLLECTION-11'),
    ageHighUnit: z.literal('Years').nullable().describe('MIABIS-COLLECTION-12'),
    sampleTypes: z.array(z.string()).describe('MIABIS-COLLECTION-14'),
    materials: z
      .array(
        z.object({
          sampleType: z.string(),
          materialType: z.string().describe('BBMRI-ERIC Directory material type'),
          numberOfSamples: z.number().int(),
        }),
      )
      .describe('samples per sample type (distinct lineage roots)'),
    storageTemperatures: z.array(z.enum(MIABIS_STORAGE_TEMPERATURES)).describe('MIABIS-COLLECTION-15'),
    diseases: z
      .array(z.object({ ontology: z.literal('ICD-10'), code: z.string(), uri: z.string() }))
      .describe('MIABIS-COLLECTION-16'),
    numberOfSamples: z
      .number()
      .int()
      .describe('samples counted as MIABIS does: aliquots and derivatives of one sample count once'),
    totalNumberOfSubjects: z.number().int().describe('MIABIS-COLLECTION-21'),
  })
  .describe('a MIABIS Core 3.0 Collection');
