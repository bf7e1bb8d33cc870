// The sharing request state machine (DESIGN.md section 5; CONTRIBUTING.md rule 8): one table,
// pure functions. Each action names the side allowed to take it, so "who may do what" to a
// request is read here, not scattered over the services.
//
// Approval reserves atomically: `approve` (under_review -> approved) and `reserve`
// (approved -> reserved) run in ONE transaction, each with its own timeline event, so the
// timeline shows who approved and that every item was reserved. A committed request is never seen
// in `approved`: if any item cannot be reserved the whole approval rolls back. A reservation that
// passes its deadline unshipped is released by the scheduled job (`expire_reservation`), which
// ends the request as cancelled with the reason.

export const REQUEST_STATES = [
  'draft',
  'submitted',
  'under_review',
  'approved',
  'rejected',
  'reserved',
  'shipped',
  'received',
  'completed',
  'cancelled',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export const REQUEST_ACTIONS = [
  'update',
  'submit',
  'start_review',
  'edit_proposal',
  'propose',
  'approve',
  'reserve',
  'reject',
  'cancel',
  'expire_reservation',
  'cancel_emptied',
  'ship',
  'receive',
  'complete',
] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/** Which side may take an action: the requesting institution, the provider, or the system (jobs). */
export const SIDES = ['requester', 'provider', 'system'] as const;
export type Side = (typeof SIDES)[number];

export const UNCHANGED = 'unchanged';

export interface RequestRule {
  readonly from: readonly RequestState[];
  readonly to: RequestState | typeof UNCHANGED;
  readonly by: readonly Side[];
}

/** States where the request's reservations are still ours to release (the requester may cancel). */
const BEFORE_SHIPPING = ['draft', 'submitted', 'under_review', 'approved', 'reserved'] as const;

export const REQUEST_TRANSITIONS = {
  // Only a draft is edited freely; after submission the provider works on what was sent.
  update: { from: ['draft'], to: UNCHANGED, by: ['requester'] },
  submit: { from: ['draft'], to: 'submitted', by: ['requester'] },
  start_review: { from: ['submitted'], to: 'under_review', by: ['provider'] },
  // The proposal job fills a submitted request; people edit it once review started.
  edit_proposal: { from: ['under_review'], to: UNCHANGED, by: ['provider'] },
  // A reviewer tops the proposal up with matching specimens (`POST .../propose`). The job after
  // submission makes the first proposal outside this rule (sharing.proposal.ts, `first`).
  propose: { from: ['under_review'], to: UNCHANGED, by: ['provider'] },
  approve: { from: ['under_review'], to: 'approved', by: ['provider'] },
  // Taken in approval's own transaction (see the header).
  reserve: { from: ['approved'], to: 'reserved', by: ['provider'] },
  reject: { from: ['submitted', 'under_review'], to: 'rejected', by: ['provider'] },
  // The requester may cancel until the tubes leave (issue 10, point 4).
  cancel: { from: BEFORE_SHIPPING, to: 'cancelled', by: ['requester'] },
  expire_reservation: { from: ['reserved'], to: 'cancelled', by: ['system'] },
  // Every item of a reserved request was withdrawn (consent) or released (its tube destroyed or
  // reported missing at the provider): nothing is left to ship.
  cancel_emptied: { from: ['reserved'], to: 'cancelled', by: ['system'] },
  ship: { from: ['reserved'], to: 'shipped', by: ['provider'] },
  receive: { from: ['shipped'], to: 'received', by: ['requester'] },
  complete: { from: ['received'], to: 'completed', by: ['requester', 'system'] },
} as const satisfies Record<RequestAction, RequestRule>;

export const FINAL_STATES = ['rejected', 'completed', 'cancelled'] as const satisfies readonly RequestState[];

export type RequestTransition =
  | { readonly ok: true; readonly to: RequestState }
  | { readonly ok: false; readonly blockedBy: 'state' | 'side'; readonly reason: string };

/**
 * The state `action` leads to from `state` when taken by `side`, or why it is refused. Refusals by
 * state map to INVALID_REQUEST_TRANSITION; by side, the service answers 404 or 403 as the case is.
 */
export function requestTransition(state: RequestState, action: RequestAction, side: Side): RequestTransition {
  const rule: RequestRule = REQUEST_TRANSITIONS[action];
  if (!rule.by.includes(side)) {
    return {
      ok: false,
      blockedBy: 'side',
      reason: `the ${side} may not ${action.replace('_', ' ')} a request`,
    };
  }
  if (!rule.from.includes(state)) {
    return {
      ok: false,
      blockedBy: 'state',
      reason: `cannot ${action.replace('_', ' ')} a request that is ${state}`,
    };
  }
  return { ok: true, to: rule.to === UNCHANGED ? state : rule.to };
}

/** Actions `side` may take on a request in `state`, in REQUEST_ACTIONS order. */
export function allowedRequestActions(state: RequestState, side: Side): RequestAction[] {
  return REQUEST_ACTIONS.filter((a) => requestTransition(state, a, side).ok);
}

export const ITEM_STATES = [
  'proposed',
  'reserved',
  'released',
  'withdrawn',
  'shipped',
  'received',
  'damaged',
  'missing',
  'temperature_excursion',
] as const;
export type ItemState = (typeof ITEM_STATES)[number];

/** Item states that hold the specimen for this request: one specimen, at most one such item. */
export const HOLDING_ITEM_STATES = ['reserved', 'shipped'] as const satisfies readonly ItemState[];
