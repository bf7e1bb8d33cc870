import { describe, expect, it } from 'vitest';
import {
  canonicalEvent,
  canonicalJson,
  canonicalQuantity,
  eventHash,
  verifyChain,
  type ChainedEventFields,
} from './custody.chain.js';

const base = (seq: number, v: 1 | 2): ChainedEventFields => ({
  specimenId: '018f0000-0000-7000-8000-000000000001',
  institutionId: '018f0000-0000-7000-8000-000000000002',
  seq,
  type: 'moved',
  occurredAt: new Date('2026-01-01T00:00:00Z'),
  recordedAt: new Date('2026-01-01T00:00:01Z'),
  actor: 'api_key:018f0000-0000-7000-8000-000000000003',
  hashVersion: v,
  actorName: v === 1 ? null : 'night shift scanner',
  actorRole: v === 1 ? null : 'technician',
  actorInstitutionCode: v === 1 ? null : 'UHB',
  requestId: `req-${seq}`,
  fromContainerId: null,
  fromPosition: null,
  toContainerId: null,
  toPosition: 'A1',
  quantityChange: null,
  details: {},
});

function chainOf(versions: (1 | 2)[]) {
  let prev: string | null = null;
  return versions.map((v, i) => {
    const e = base(i + 1, v);
    const hash = eventHash(prev, e);
    const row = { ...e, id: i + 1, prevHash: prev, hash };
    prev = hash;
    return row;
  });
}

describe('custody hash versions', () => {
  it('a chain recorded before the identity was kept (version 1) and continued in version 2 verifies', () => {
    expect(verifyChain(chainOf([1, 1, 2, 2])).firstBreak).toBeNull();
  });

  it('version 1 hashes exactly as before: the identity columns are not part of it', () => {
    const e = base(1, 1);
    expect(eventHash(null, { ...e, actorName: 'added later' })).toBe(eventHash(null, e));
  });

  it('version 2 covers the name, role and institution code', () => {
    const e = base(1, 2);
    const h = eventHash(null, e);
    expect(eventHash(null, { ...e, actorName: 'other' })).not.toBe(h);
    expect(eventHash(null, { ...e, actorRole: 'admin' })).not.toBe(h);
    expect(eventHash(null, { ...e, actorInstitutionCode: 'XYZ' })).not.toBe(h);
    // Downgrading an event to version 1 to drop its identity from the hash is a break too.
    const chain = chainOf([1, 2]);
    chain[1] = { ...chain[1]!, hashVersion: 1 };
    expect(verifyChain(chain).firstBreak).toMatchObject({ seq: 2, reason: 'hash_mismatch' });
  });
});

describe('the canonical form of an event', () => {
  // The generic form it stands for: canonicalJson of the whole object, keys sorted per event.
  const generic = (e: ChainedEventFields) =>
    canonicalJson({
      ...(e.hashVersion === 1
        ? {}
        : {
            hashVersion: e.hashVersion,
            actorIdentity: { name: e.actorName, role: e.actorRole, institutionCode: e.actorInstitutionCode },
          }),
      specimenId: e.specimenId,
      institutionId: e.institutionId,
      seq: e.seq,
      type: e.type,
      occurredAt: e.occurredAt.toISOString(),
      recordedAt: e.recordedAt.toISOString(),
      actor: e.actor,
      requestId: e.requestId,
      from: [e.fromContainerId, e.fromPosition],
      to: [e.toContainerId, e.toPosition],
      quantityChange: canonicalQuantity(e.quantityChange),
      details: e.details,
    });

  it('is byte for byte the generic form, for both versions and every kind of value', () => {
    const variants: Partial<ChainedEventFields>[] = [
      {},
      { fromContainerId: '018f0000-0000-7000-8000-000000000009', fromPosition: 'B12', toPosition: null },
      {
        quantityChange: 1.5,
        details: { barcode: 'S-"1"\\', type: 'serum', nested: { z: 1, a: [null, 'é'] } },
      },
      { quantityChange: '-0.2500', actorName: 'Ünïcode \u2028 name', requestId: 'req\n"x"' },
      { actorRole: null, actorInstitutionCode: null, details: { b: undefined, a: 0 } },
      { actorName: undefined },
    ];
    for (const v of [1, 2] as const)
      for (const variant of variants) {
        const e = { ...base(3, v), ...variant };
        expect(canonicalEvent(e)).toBe(generic(e));
      }
  });
});
