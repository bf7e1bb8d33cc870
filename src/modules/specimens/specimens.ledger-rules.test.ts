import { describe, expect, it } from 'vitest';
import { DomainError } from '../../errors.js';
import type { Placement } from '../storage/index.js';
import type { SpecimenCommand } from './specimens.commands.js';
import { changeOf, checkCommand, leavesFrom } from './specimens.ledger-rules.js';
import type { SpecimenStatus } from './specimens.lifecycle.js';
import type { SpecimenRow } from './specimens.table.js';

// The ledger's pure rules: what each command may do to a tube and what it writes.

const NOW = new Date('2026-03-01T10:00:00Z');
const opts = { countThaw: true, now: NOW };
const from = { fromContainerId: 'box-1', fromPosition: 'A1' };

function tube(over: Partial<SpecimenRow> = {}): SpecimenRow {
  return {
    id: 't-1',
    institutionId: 'i-1',
    barcode: 'T-1',
    type: 'plasma',
    lineage: 'primary',
    parentId: null,
    rootId: 't-1',
    participantId: null,
    protocolId: null,
    anatomicSite: null,
    pathologyStatus: 'unknown',
    collectedAt: null,
    receivedAt: null,
    processedAt: null,
    frozenAt: null,
    sprecCode: null,
    sprecVersion: null,
    unit: 'mL',
    initialQuantity: 2,
    availableQuantity: 2,
    quality: {},
    freezeThawCount: 0,
    status: 'available',
    holds: [],
    qcStatus: 'unchecked',
    containerId: 'box-1',
    positionRow: 1,
    positionCol: 1,
    externalIds: [],
    custodySeq: 2,
    custodyHead: 'h',
    createdAt: NOW,
    updatedAt: NOW,
    version: 3,
    ...over,
  };
}

const box2 = { id: 'box-2', barcode: 'BX-2' } as Placement['container'];
const placement: Placement = { container: box2, row: 2, col: 3, label: 'B3', path: 'F / BX-2 / B3' };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('ledger rules', () => {
  it('stores an unplaced tube and records a move for a placed one', () => {
    const stored = changeOf(
      { kind: 'store', specimen: tube({ containerId: null, status: 'pending' }), placement },
      from,
      opts,
    );
    expect(stored.events.map((e) => e.type)).toEqual(['stored']);
    expect(stored.patch).toMatchObject({
      status: 'available',
      containerId: 'box-2',
      positionRow: 2,
      positionCol: 3,
    });
    const moved = changeOf({ kind: 'store', specimen: tube(), placement }, from, opts);
    expect(moved.events[0]).toMatchObject({ type: 'moved', fromPosition: 'A1', toPosition: 'B3' });
  });

  it('draws the last of a tube to consumed and frees its position', () => {
    const c = changeOf({ kind: 'consume', specimen: tube(), quantity: 2 }, from, opts);
    expect(c.patch).toMatchObject({ status: 'consumed', availableQuantity: 0, containerId: null });
    expect(c.events[0]).toMatchObject({ type: 'consumed', quantityChange: -2, fromPosition: 'A1' });
    expect(leavesFrom({ kind: 'consume', specimen: tube(), quantity: 1 })).toBe(false);
    expect(refusal(() => checkCommand({ kind: 'consume', specimen: tube(), quantity: 2.5 }))).toBe(
      'INSUFFICIENT_QUANTITY',
    );
  });

  it('counts a thaw on check-in only when the lab counts them', () => {
    const command: SpecimenCommand = {
      kind: 'check_in',
      specimen: tube({ status: 'in_use' }),
      placement: null,
      thawed: true,
    };
    expect(changeOf(command, from, opts).events.map((e) => e.type)).toEqual(['checked_in', 'thawed']);
    // A plain check-in names the position the tube returns to.
    expect(changeOf(command, from, opts).events[0]).toMatchObject({
      toContainerId: from.fromContainerId,
      toPosition: from.fromPosition,
    });
    expect(changeOf(command, from, { ...opts, countThaw: false }).events.map((e) => e.type)).toEqual([
      'checked_in',
    ]);
  });

  it('refuses use of a held tube but lets it be moved, destroyed or reported missing', () => {
    const held = tube({ holds: ['QUARANTINE'] });
    expect(refusal(() => checkCommand({ kind: 'check_out', specimen: held }))).toBe('SPECIMEN_ON_HOLD');
    expect(refusal(() => checkCommand({ kind: 'reserve', specimen: held, details: {} }))).toBe(
      'SPECIMEN_ON_HOLD',
    );
    expect(refusal(() => checkCommand({ kind: 'move', specimen: held }))).toBe('accepted');
    expect(refusal(() => checkCommand({ kind: 'destroy', specimen: held }))).toBe('accepted');
    expect(refusal(() => checkCommand({ kind: 'mark_missing', specimen: held }))).toBe('accepted');
  });

  it('never destroys a missing tube', () => {
    expect(
      refusal(() =>
        checkCommand({ kind: 'destroy', specimen: tube({ status: 'missing', containerId: null }) }),
      ),
    ).toBe('INVALID_TRANSITION');
  });

  it.each<[SpecimenStatus, string]>([
    ['destroyed', 'accepted'],
    ['distributed', 'accepted'],
    ['missing', 'accepted'],
  ])('records a consent withdrawal on a %s tube', (status, verdict) => {
    expect(
      refusal(() =>
        checkCommand({
          kind: 'withdraw_consent',
          specimen: tube({ status }),
          consentId: 'c',
          scope: 'stop_future_use',
        }),
      ),
    ).toBe(verdict);
  });

  it('lifts a consent hold from a living tube but not from a destroyed or consumed one', () => {
    const held = { holds: ['CONSENT_WITHDRAWN'] };
    const lift = (status: SpecimenStatus) =>
      refusal(() =>
        checkCommand({ kind: 'lift_consent_hold', specimen: tube({ ...held, status }), consentId: 'c' }),
      );
    expect(lift('available')).toBe('accepted');
    expect(lift('destroyed')).toBe('INVALID_TRANSITION');
    expect(lift('consumed')).toBe('INVALID_TRANSITION');
    const c = changeOf({ kind: 'lift_consent_hold', specimen: tube(held), consentId: 'c' }, from, opts);
    expect(c.patch.holds).toEqual([]);
    expect(c.events[0]).toMatchObject({ type: 'hold_released', details: { reconsent: true } });
  });

  it('places a hold once and releases only a hold that is there', () => {
    expect(
      refusal(() =>
        checkCommand({ kind: 'place_hold', specimen: tube({ holds: ['QC_FAILED'] }), reason: 'QC_FAILED' }),
      ),
    ).toBe('HOLD_EXISTS');
    expect(refusal(() => checkCommand({ kind: 'release_hold', specimen: tube(), reason: 'QC_FAILED' }))).toBe(
      'HOLD_NOT_FOUND',
    );
  });

  it('edits descriptive fields only at the expected version, with no custody event', () => {
    expect(
      refusal(() =>
        changeOf(
          { kind: 'edit', specimen: tube(), patch: { anatomicSite: 'C50' }, expectedVersion: 2 },
          from,
          opts,
        ),
      ),
    ).toBe('VERSION_CONFLICT');
    const c = changeOf(
      { kind: 'edit', specimen: tube(), patch: { anatomicSite: 'C50' }, expectedVersion: 3 },
      from,
      opts,
    );
    expect(c.events).toEqual([]);
    expect(c.expectedVersion).toBe(3);
  });

  it('walks a tube through sharing: reserve, ship (leaving its box), deliver', () => {
    const r = changeOf({ kind: 'reserve', specimen: tube(), details: { requestId: 'r' } }, from, opts);
    expect(r.patch.status).toBe('reserved');
    const s = changeOf({ kind: 'ship', specimen: tube({ status: 'reserved' }), details: {} }, from, opts);
    expect(s.patch).toMatchObject({ status: 'shipped', containerId: null });
    expect(s.events[0]).toMatchObject({ type: 'shipped', fromPosition: 'A1' });
    expect(refusal(() => checkCommand({ kind: 'ship', specimen: tube(), details: {} }))).toBe(
      'INVALID_TRANSITION',
    );
    expect(
      changeOf(
        { kind: 'deliver', specimen: tube({ status: 'shipped', containerId: null }), details: {} },
        from,
        opts,
      ).patch.status,
    ).toBe('distributed');
  });

  it('stamps a receipt without a time with the clock', () => {
    const c = changeOf(
      { kind: 'receive', specimen: tube({ status: 'pending', containerId: null }), placement: null },
      from,
      opts,
    );
    expect(c.patch.receivedAt).toEqual(NOW);
  });
});
