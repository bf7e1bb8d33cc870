import { describe, expect, it } from 'vitest';
import { putQualityRulesInput } from './standards.schemas.js';
import { normalizeRules } from './quality-rules.js';
import {
  evaluateSpecimen,
  memoDecoder,
  worstOutcome,
  type CheckResult,
  type Ruleset,
  type SpecimenFacts,
} from './standards.rules.js';

const at = (iso: string) => new Date(iso);
const TODAY = '2024-06-01';

function facts(over: Partial<SpecimenFacts> = {}): SpecimenFacts {
  return {
    id: '018f0000-0000-7000-8000-000000000001',
    barcode: 'S-1',
    institutionId: '018f0000-0000-7000-8000-0000000000aa',
    version: 3,
    type: 'serum',
    lineage: 'primary',
    status: 'available',
    holds: [],
    participantId: '018f0000-0000-7000-8000-0000000000bb',
    protocolId: '018f0000-0000-7000-8000-0000000000cc',
    anatomicSite: null,
    pathologyStatus: 'not_applicable',
    collectedAt: at('2024-03-05T08:00:00Z'),
    receivedAt: at('2024-03-05T08:30:00Z'),
    processedAt: at('2024-03-05T09:00:00Z'),
    frozenAt: at('2024-03-05T09:30:00Z'),
    sprecCode: 'SER-SST-A-D-N-B-A',
    sprecVersion: '3.0',
    quality: {},
    freezeThawCount: 0,
    containerId: '018f0000-0000-7000-8000-0000000000dd',
    storageTemperatureC: -80,
    custodySeq: 2,
    custodyHead: 'h2',
    custody: {
      events: 2,
      minSeq: 1,
      maxSeq: 2,
      linked: true,
      head: 'h2',
      firstType: 'collected',
      lastToContainerId: '018f0000-0000-7000-8000-0000000000dd',
      verified: null,
    },
    donor: { sex: 'female', birthYear: 1970, diagnoses: ['C18.0'] },
    consent: { status: 'active', expiresOn: null },
    source: null,
    root: null,
    ...over,
  };
}

function rules(...inputs: unknown[]): Ruleset {
  const parsed = putQualityRulesInput.parse({ rules: inputs });
  const { rules: normalized, problems } = normalizeRules(parsed.rules);
  expect(problems).toEqual([]);
  return { protocolId: '018f0000-0000-7000-8000-0000000000cc', version: 4, rules: normalized };
}

const byCheck = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));
const run = (f: SpecimenFacts, rs: Ruleset | null = null) =>
  byCheck(evaluateSpecimen(f, rs, { today: TODAY, decode: memoDecoder() }));

describe('built-in checks on a well-documented specimen', () => {
  it('passes every check', () => {
    const r = run(facts());
    expect(Object.keys(r)).toEqual([
      'sprec.code',
      'sprec.record',
      'miabis.sample',
      'miabis.donor',
      'custody.chain',
      'consent.on_file',
    ]);
    expect(Object.values(r).map((x) => [x.check, x.outcome])).toEqual(Object.keys(r).map((k) => [k, 'pass']));
    expect(r['sprec.record']!.message).toBe(
      'SER-SST-A-D-N-B-A agrees with the record (SER-XXX-A-X-X-B-A): 4 positions compared, 3 unknown',
    );
  });
});

describe('sprec checks', () => {
  it('flags a stated pre-centrifugation A when the record says 5 h at room temperature', () => {
    const r = run(facts({ processedAt: at('2024-03-05T13:00:00Z'), frozenAt: at('2024-03-05T13:30:00Z') }));
    expect(r['sprec.code']!.outcome).toBe('pass');
    expect(r['sprec.record']).toMatchObject({ outcome: 'fail' });
    expect(r['sprec.record']!.message).toContain('position 3 (pre-centrifugation delay): stated A');
    expect(r['sprec.record']!.details).toMatchObject({
      computed: 'SER-XXX-E-X-X-B-A',
      disagreements: [{ position: 3, stated: 'A', computed: 'E' }],
    });
  });

  it('fails an invalid code with the position and reason, and does not compare it', () => {
    const r = run(facts({ sprecCode: 'SER-SST-Q-D-N-B-A' }));
    expect(r['sprec.code']!.outcome).toBe('fail');
    expect(r['sprec.code']!.message).toMatch(/position 3 \(character 9\): 'Q' is not a fluid/);
    expect(r['sprec.record']).toBeUndefined();
  });

  it('fails fluid grammar on a tissue type', () => {
    const r = run(facts({ type: 'fresh_frozen_tissue', sprecCode: 'SER-SST-A-D-N-B-A' }));
    expect(r['sprec.code']!.outcome).toBe('fail');
    expect(r['sprec.code']!.message).toContain('a solid code was expected');
  });

  it('fails an unsupported version', () => {
    expect(run(facts({ sprecVersion: '1.0' }))['sprec.code']!.message).toBe(
      "SPREC version '1.0' is not supported (supported: 2.0, 3.0, 4.0)",
    );
  });

  it('warns when no code is stated, giving the code the record implies', () => {
    const r = run(facts({ sprecCode: null }));
    expect(r['sprec.code']).toMatchObject({ outcome: 'warn', details: { computed: 'SER-XXX-A-X-X-B-X' } });
  });

  it('does not apply SPREC to extracted analytes', () => {
    expect(run(facts({ type: 'dna', sprecCode: null }))['sprec.code']).toBeUndefined();
  });
});

describe('traceability checks', () => {
  it('fails a chain whose head is not the one the specimen records', () => {
    const r = run(facts({ custodyHead: 'other' }));
    expect(r['custody.chain']!.message).toBe(
      'the last custody event is not the chain head the specimen records',
    );
  });

  it('fails a chain that does not reach the current location', () => {
    const r = run(facts({ containerId: '018f0000-0000-7000-8000-0000000000ee' }));
    expect(r['custody.chain']!.outcome).toBe('fail');
    expect(r['custody.chain']!.message).toContain('ends in container');
  });

  it('fails gaps, broken links and a failed full verification', () => {
    const c = facts().custody;
    expect(run(facts({ custody: { ...c, minSeq: 2 } }))['custody.chain']!.message).toContain('gap');
    expect(run(facts({ custody: { ...c, linked: false } }))['custody.chain']!.message).toContain(
      'does not link',
    );
    expect(
      run(facts({ custody: { ...c, verified: { valid: false, reason: 'hash mismatch at event 2' } } }))[
        'custody.chain'
      ]!.message,
    ).toBe('the custody chain does not verify: hash mismatch at event 2');
  });

  it('checks consent only for donor material', () => {
    expect(run(facts({ consent: null }))['consent.on_file']!.outcome).toBe('fail');
    expect(
      run(facts({ consent: { status: 'withdrawn', expiresOn: null } }))['consent.on_file']!.outcome,
    ).toBe('warn');
    expect(
      run(facts({ consent: { status: 'active', expiresOn: '2024-05-01' } }))['consent.on_file']!.message,
    ).toBe('the consent on file expired on 2024-05-01');
    expect(
      run(facts({ participantId: null, donor: null, consent: null }))['consent.on_file'],
    ).toBeUndefined();
  });
});

describe('protocol rules', () => {
  it('fails RIN below the minimum and asks for a QC hold when the rule says so', () => {
    const rs = rules({
      kind: 'qualityMetric',
      id: 'rin-min',
      types: ['rna'],
      metric: 'rin',
      min: 7,
      holdOnFailure: true,
    });
    const r = run(facts({ type: 'rna', sprecCode: null, quality: { rin: 6.2 } }), rs);
    expect(r['rule.rin-min']).toMatchObject({
      outcome: 'fail',
      hold: true,
      rulesetVersion: 4,
      message: "rin 6.2 is below the protocol's at least 7",
    });
    expect(
      run(facts({ type: 'rna', sprecCode: null, quality: { rin: 8 } }), rs)['rule.rin-min'],
    ).toMatchObject({
      outcome: 'pass',
      hold: false,
    });
    // Not recorded: the rule's whenMissing (warn by default); other types: not applicable.
    expect(run(facts({ type: 'rna', sprecCode: null }), rs)['rule.rin-min']!.outcome).toBe('warn');
    expect(run(facts(), rs)['rule.rin-min']).toBeUndefined();
  });

  it('checks the freeze-thaw maximum', () => {
    const rs = rules({ kind: 'maxFreezeThaw', max: 2, severity: 'warn' });
    expect(run(facts({ freezeThawCount: 3 }), rs)['rule.maxFreezeThaw']).toMatchObject({
      outcome: 'warn',
      message: '3 freeze-thaw cycles; the protocol allows 2',
    });
    expect(run(facts({ freezeThawCount: 2 }), rs)['rule.maxFreezeThaw']!.outcome).toBe('pass');
  });

  it('checks the time from collection to freezing, counting an aliquot from its parent', () => {
    const rs = rules({ kind: 'maxTimeToFreezing', types: ['serum'], maxHours: 2 });
    expect(run(facts({ frozenAt: at('2024-03-05T11:00:00Z') }), rs)['rule.maxTimeToFreezing']).toMatchObject({
      outcome: 'fail',
      message: 'frozen 3 h 0 min after collection; the protocol allows 2 h',
    });
    const aliquot = facts({
      lineage: 'aliquot',
      frozenAt: null,
      source: {
        type: 'serum',
        lineage: 'primary',
        collectedAt: at('2024-03-05T08:00:00Z'),
        processedAt: at('2024-03-05T09:00:00Z'),
        frozenAt: at('2024-03-05T09:30:00Z'),
        quality: {},
        sprecCode: null,
        sprecVersion: null,
      },
    });
    expect(run(aliquot, rs)['rule.maxTimeToFreezing']!.outcome).toBe('pass');
  });

  it('checks the storage temperature range, and not for specimens out of storage', () => {
    const rs = rules({ kind: 'storageTemperature', minC: -90, maxC: -60 });
    expect(run(facts({ storageTemperatureC: -20 }), rs)['rule.storageTemperature']).toMatchObject({
      outcome: 'fail',
      message: 'stored at -20 °C; the protocol allows -90 to -60 °C for serum',
    });
    expect(run(facts(), rs)['rule.storageTemperature']!.outcome).toBe('pass');
    expect(
      run(facts({ containerId: null, storageTemperatureC: null }), rs)['rule.storageTemperature'],
    ).toBeUndefined();
  });

  it('lists the required fields that are missing', () => {
    const rs = rules({
      kind: 'requiredFields',
      fields: ['anatomicSite', 'donor.sex', 'quality.concentrationNgUl'],
    });
    expect(
      run(facts({ donor: { sex: 'unknown', birthYear: null, diagnoses: [] } }), rs)['rule.requiredFields'],
    ).toMatchObject({
      outcome: 'fail',
      details: { missing: ['anatomicSite', 'donor.sex', 'quality.concentrationNgUl'] },
    });
  });
});

describe('normalizeRules', () => {
  const parse = (...r: unknown[]) => putQualityRulesInput.parse({ rules: r }).rules;

  it('names unknown metrics and fields with their path', () => {
    const { problems } = normalizeRules(
      parse(
        { kind: 'qualityMetric', metric: 'rinn', min: 7 },
        { kind: 'requiredFields', fields: ['collectedAt', 'colour', 'quality.nope'] },
      ),
    );
    expect(problems.map((p) => [p.field, p.code])).toEqual([
      ['rules.0.metric', 'UNKNOWN_RULE_FIELD'],
      ['rules.1.fields.1', 'UNKNOWN_RULE_FIELD'],
      ['rules.1.fields.2', 'UNKNOWN_RULE_FIELD'],
    ]);
    expect(problems[0]!.message).toMatch(/^unknown quality metric 'rinn'; known: rin, /);
  });

  it('derives ids from the kind, numbering repeats, and refuses duplicate explicit ids', () => {
    const { rules: r } = normalizeRules(
      parse(
        { kind: 'maxTimeToFreezing', types: ['serum'], maxHours: 2 },
        { kind: 'maxTimeToFreezing', types: ['plasma'], maxHours: 1 },
        { kind: 'qualityMetric', metric: 'rin', min: 7 },
      ),
    );
    expect(r.map((x) => x.id)).toEqual(['maxTimeToFreezing', 'maxTimeToFreezing-2', 'qualityMetric.rin']);
    expect(
      normalizeRules(
        parse({ kind: 'maxFreezeThaw', id: 'a', max: 1 }, { kind: 'maxFreezeThaw', id: 'a', max: 2 }),
      ).problems[0],
    ).toMatchObject({ field: 'rules.1.id', code: 'DUPLICATE_RULE_ID' });
  });

  it('refuses properties a rule kind does not have (schema)', () => {
    const r = putQualityRulesInput.safeParse({ rules: [{ kind: 'maxFreezeThaw', max: 1, metric: 'rin' }] });
    expect(r.success).toBe(false);
  });
});

describe('worstOutcome', () => {
  it('is the worst result, unchecked without results', () => {
    expect(worstOutcome([])).toBe('unchecked');
    expect(worstOutcome([{ outcome: 'pass' }, { outcome: 'warn' }])).toBe('warn');
    expect(worstOutcome([{ outcome: 'fail' }, { outcome: 'warn' }, { outcome: 'pass' }])).toBe('fail');
  });
});
