import { describe, expect, it } from 'vitest';
import {
  SPECIMEN_ACTIONS,
  SPECIMEN_STATUSES,
  actionBlockedByHold,
  allowedActions,
  transition,
  type SpecimenAction,
  type SpecimenStatus,
} from './specimens.lifecycle.js';

// The expected matrix, written out by hand so the test does not restate the table it checks.
// Columns follow SPECIMEN_STATUSES. '-' refused, '=' accepted and unchanged, else the new status.
type Cell = '-' | '=' | SpecimenStatus;
//                        pending      available    in_use       reserved     shipped        distributed    consumed    destroyed    missing
// prettier-ignore
const EXPECTED: Record<SpecimenAction, readonly Cell[]> = {
  receive:              ['available', '-',         '-',         '-',         '-',           '-',           '-',        '-',         '-'],
  store:                ['available', 'available', '-',         '-',         '-',           '-',           '-',        '-',         '-'],
  move:                 ['-',         '=',         '-',         '=',         '-',           '-',           '-',        '-',         '-'],
  check_out:            ['-',         'in_use',    '-',         '-',         '-',           '-',           '-',        '-',         '-'],
  check_in:             ['-',         '-',         'available', '-',         '-',           '-',           '-',        '-',         '-'],
  consume:              ['-',         '=',         '=',         '-',         '-',           '-',           '-',        '-',         '-'],
  aliquot:              ['-',         '=',         '=',         '-',         '-',           '-',           '-',        '-',         '-'],
  derive:               ['-',         '=',         '=',         '-',         '-',           '-',           '-',        '-',         '-'],
  reserve:              ['-',         'reserved',  '-',         '-',         '-',           '-',           '-',        '-',         '-'],
  release_reservation:  ['-',         '-',         '-',         'available', 'available',   '-',           '-',        '-',         '-'],
  ship:                 ['-',         '-',         '-',         'shipped',   '-',           '-',           '-',        '-',         '-'],
  deliver:              ['-',         '-',         '-',         '-',         'distributed', '-',           '-',        '-',         '-'],
  receive_from_institution: ['available', '-',     '-',         '-',         '-',           '-',           '-',        '-',         '-'],
  destroy:              ['destroyed', 'destroyed', 'destroyed', 'destroyed', 'destroyed',   '-',           '-',        '-',         '-'],
  mark_missing:         ['missing',   'missing',   'missing',   'missing',   'missing',     '-',           '-',        '-',         '-'],
  mark_found:           ['-',         '-',         '-',         '-',         '-',           '-',           '-',        '-',         'available'],
  place_hold:           ['=',         '=',         '=',         '=',         '=',           '-',           '-',        '-',         '='],
  release_hold:         ['=',         '=',         '=',         '=',         '=',           '-',           '-',        '-',         '='],
  edit:                 ['=',         '=',         '=',         '=',         '=',           '=',           '=',        '=',         '='],
  relocate_with_container: ['=',      '=',         '=',         '=',         '=',           '=',           '=',        '=',         '='],
  withdraw_consent:     ['=',         '=',         '=',         '=',         '=',           '=',           '=',        '=',         '='],
  lift_consent_hold:    ['=',         '=',         '=',         '=',         '=',           '=',           '-',        '-',         '='],
};
const RECORD_KEEPING: readonly SpecimenAction[] = [
  'receive_from_institution',
  'edit',
  'relocate_with_container',
  'withdraw_consent',
  'lift_consent_hold',
];

const DRAWING_ACTIONS: readonly SpecimenAction[] = ['consume', 'aliquot', 'derive'];
const HOLD_BLOCKED: readonly SpecimenAction[] = [
  'check_out',
  'consume',
  'aliquot',
  'derive',
  'reserve',
  'ship',
];

function expectedCell(action: SpecimenAction, status: SpecimenStatus): Cell {
  const cell = EXPECTED[action][SPECIMEN_STATUSES.indexOf(status)];
  if (cell === undefined) throw new Error(`matrix has no cell for ${action} x ${status}`);
  return cell;
}

const PAIRS = SPECIMEN_ACTIONS.flatMap((action) =>
  SPECIMEN_STATUSES.map((status) => ({ action, status, cell: expectedCell(action, status) })),
);

describe('specimen lifecycle table', () => {
  it('has a matrix row for every action and a column for every status', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...SPECIMEN_ACTIONS].sort());
    for (const row of Object.values(EXPECTED)) expect(row).toHaveLength(SPECIMEN_STATUSES.length);
  });

  it.each(PAIRS.filter((p) => p.cell === '-'))('refuses $action from $status', ({ action, status }) => {
    expect(transition(status, action)).toEqual({
      ok: false,
      blockedBy: 'status',
      reason: `cannot ${action} a specimen that is ${status}`,
    });
  });

  it.each(PAIRS.filter((p) => p.cell !== '-'))(
    'accepts $action from $status, leading to $cell',
    ({ action, status, cell }) => {
      expect(transition(status, action)).toEqual({ ok: true, to: cell === '=' ? status : cell });
    },
  );

  it('names the action and the current status in a refusal', () => {
    expect(transition('consumed', 'check_out')).toMatchObject({
      ok: false,
      reason: 'cannot check_out a specimen that is consumed',
    });
  });
});

describe('drawing the last of the quantity', () => {
  it.each(PAIRS.filter((p) => DRAWING_ACTIONS.includes(p.action) && p.cell !== '-'))(
    '$action from $status with nothing left leads to consumed',
    ({ action, status }) => {
      expect(transition(status, action, { depleted: true })).toEqual({ ok: true, to: 'consumed' });
    },
  );

  it.each(PAIRS.filter((p) => !DRAWING_ACTIONS.includes(p.action)))(
    'ignores depletion for $action from $status',
    ({ action, status }) => {
      expect(transition(status, action, { depleted: true })).toEqual(transition(status, action));
    },
  );

  it('does not let depletion open a refused pair', () => {
    expect(transition('reserved', 'consume', { depleted: true })).toMatchObject({
      ok: false,
      blockedBy: 'status',
    });
  });
});

describe('holds', () => {
  it('block use and sharing, not custody-keeping actions', () => {
    expect(SPECIMEN_ACTIONS.filter(actionBlockedByHold)).toEqual(HOLD_BLOCKED);
    for (const action of [
      'receive',
      'store',
      'move',
      'check_in',
      'destroy',
      'mark_missing',
      'mark_found',
      'release_reservation',
      'deliver',
      'release_hold',
      'place_hold',
    ] as const) {
      expect(actionBlockedByHold(action)).toBe(false);
    }
  });

  it.each(PAIRS.filter((p) => p.cell !== '-'))(
    'on hold, $action from $status is refused exactly when holds block it',
    ({ action, status, cell }) => {
      const result = transition(status, action, { held: true });
      if (HOLD_BLOCKED.includes(action)) {
        expect(result).toEqual({
          ok: false,
          blockedBy: 'hold',
          reason: `cannot ${action} a specimen that is on hold`,
        });
      } else {
        expect(result).toEqual({ ok: true, to: cell === '=' ? status : cell });
      }
    },
  );

  it('reports the status refusal first when both apply', () => {
    expect(transition('consumed', 'check_out', { held: true })).toMatchObject({
      ok: false,
      blockedBy: 'status',
    });
  });

  it('does not stop a held specimen from being moved, destroyed or released', () => {
    expect(transition('available', 'move', { held: true })).toEqual({ ok: true, to: 'available' });
    expect(transition('reserved', 'destroy', { held: true })).toEqual({ ok: true, to: 'destroyed' });
    expect(transition('available', 'release_hold', { held: true })).toEqual({ ok: true, to: 'available' });
  });
});

describe('allowedActions', () => {
  it.each(SPECIMEN_STATUSES.map((status) => ({ status })))(
    'lists the matrix-accepted actions from $status',
    ({ status }) => {
      expect(allowedActions(status)).toEqual(
        SPECIMEN_ACTIONS.filter((a) => !RECORD_KEEPING.includes(a) && expectedCell(a, status) !== '-'),
      );
    },
  );

  it('spells out what an available specimen can do, with and without a hold', () => {
    expect(allowedActions('available')).toEqual([
      'store',
      'move',
      'check_out',
      'consume',
      'aliquot',
      'derive',
      'reserve',
      'destroy',
      'mark_missing',
      'place_hold',
      'release_hold',
    ]);
    expect(allowedActions('available', { held: true })).toEqual([
      'store',
      'move',
      'destroy',
      'mark_missing',
      'place_hold',
      'release_hold',
    ]);
  });

  it('offers nothing for a destroyed, consumed or distributed specimen', () => {
    expect(allowedActions('destroyed')).toEqual([]);
    expect(allowedActions('consumed')).toEqual([]);
    expect(allowedActions('distributed')).toEqual([]);
  });
});
