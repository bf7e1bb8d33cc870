import { describe, expect, it } from 'vitest';
import {
  REQUEST_ACTIONS,
  REQUEST_STATES,
  SIDES,
  allowedRequestActions,
  requestTransition,
  type RequestAction,
  type RequestState,
  type Side,
} from './sharing.lifecycle.js';

// The expected matrix, written out by hand so the test does not restate the table it checks.
// Columns follow REQUEST_STATES. '-' refused, '=' accepted and unchanged, else the new state.
type Cell = '-' | '=' | RequestState;
//                     draft        submitted    under_review  approved    rejected  reserved     shipped    received    completed  cancelled
// prettier-ignore
const EXPECTED: Record<RequestAction, readonly Cell[]> = {
  update:             ['=',         '-',         '-',          '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  submit:             ['submitted', '-',         '-',          '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  start_review:       ['-',         'under_review', '-',       '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  edit_proposal:      ['-',         '-',         '=',          '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  propose:            ['-',         '-',         '=',          '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  approve:            ['-',         '-',         'approved',   '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  reserve:            ['-',         '-',         '-',          'reserved', '-',      '-',         '-',       '-',        '-',       '-'],
  reject:             ['-',         'rejected',  'rejected',   '-',        '-',      '-',         '-',       '-',        '-',       '-'],
  cancel:             ['cancelled', 'cancelled', 'cancelled',  'cancelled', '-',     'cancelled', '-',       '-',        '-',       '-'],
  expire_reservation: ['-',         '-',         '-',          '-',        '-',      'cancelled', '-',       '-',        '-',       '-'],
  cancel_emptied:   ['-',         '-',         '-',          '-',        '-',      'cancelled', '-',       '-',        '-',       '-'],
  ship:               ['-',         '-',         '-',          '-',        '-',      'shipped',   '-',       '-',        '-',       '-'],
  receive:            ['-',         '-',         '-',          '-',        '-',      '-',         'received', '-',       '-',       '-'],
  complete:           ['-',         '-',         '-',          '-',        '-',      '-',         '-',       'completed', '-',      '-'],
};

// Who may take each action, also by hand.
const BY: Record<RequestAction, readonly Side[]> = {
  update: ['requester'],
  submit: ['requester'],
  start_review: ['provider'],
  edit_proposal: ['provider'],
  propose: ['provider'],
  approve: ['provider'],
  reserve: ['provider'],
  reject: ['provider'],
  cancel: ['requester'],
  expire_reservation: ['system'],
  cancel_emptied: ['system'],
  ship: ['provider'],
  receive: ['requester'],
  complete: ['requester', 'system'],
};

describe('sharing request lifecycle', () => {
  for (const action of REQUEST_ACTIONS) {
    for (const state of REQUEST_STATES) {
      for (const side of SIDES) {
        const cell = EXPECTED[action][REQUEST_STATES.indexOf(state)];
        const allowedSide = BY[action].includes(side);
        it(`${action} from ${state} by the ${side}: ${allowedSide ? (cell ?? '?') : 'refused (side)'}`, () => {
          const result = requestTransition(state, action, side);
          if (!allowedSide) {
            expect(result).toMatchObject({ ok: false, blockedBy: 'side' });
          } else if (cell === '-') {
            expect(result).toMatchObject({ ok: false, blockedBy: 'state' });
          } else {
            expect(result).toEqual({ ok: true, to: cell === '=' ? state : cell });
          }
        });
      }
    }
  }

  it('lists the actions a side may take in a state', () => {
    expect(allowedRequestActions('draft', 'requester')).toEqual(['update', 'submit', 'cancel']);
    expect(allowedRequestActions('under_review', 'provider')).toEqual([
      'edit_proposal',
      'propose',
      'approve',
      'reject',
    ]);
    expect(allowedRequestActions('reserved', 'system')).toEqual(['expire_reservation', 'cancel_emptied']);
    expect(allowedRequestActions('cancelled', 'requester')).toEqual([]);
  });

  it('names the refused action and state in words', () => {
    expect(requestTransition('rejected', 'approve', 'provider')).toEqual({
      ok: false,
      blockedBy: 'state',
      reason: 'cannot approve a request that is rejected',
    });
  });
});
