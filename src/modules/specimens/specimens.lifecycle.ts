// The specimen state machine (DESIGN.md section 3; STYLE.md rule 6): one table, pure functions.
// A hold (consent withdrawn, QC failed, quarantine) is not a status: it blocks some actions
// while the status stays what it is, so it is checked beside the table, not inside it.

export const SPECIMEN_STATUSES = [
  'pending',
  'available',
  'in_use',
  'reserved',
  'shipped',
  'distributed',
  'consumed',
  'destroyed',
  'missing',
] as const;
export type SpecimenStatus = (typeof SPECIMEN_STATUSES)[number];

export const SPECIMEN_ACTIONS = [
  'receive',
  'store',
  'move',
  'check_out',
  'check_in',
  'consume',
  'aliquot',
  'derive',
  'reserve',
  'release_reservation',
  'ship',
  'deliver',
  'receive_from_institution',
  'destroy',
  'mark_missing',
  'mark_found',
  'place_hold',
  'release_hold',
  'edit',
  'relocate_with_container',
  'withdraw_consent',
  'lift_consent_hold',
] as const;
export type SpecimenAction = (typeof SPECIMEN_ACTIONS)[number];

/** Statuses from which a specimen can still change: physically held by us or in transit. */
export const LIVE_STATUSES = [
  'pending',
  'available',
  'in_use',
  'reserved',
  'shipped',
] as const satisfies readonly SpecimenStatus[];

/** Not live: out of our hands for good, except `missing`, which `mark_found` leaves. */
export const INACTIVE_STATUSES = [
  'distributed',
  'consumed',
  'destroyed',
  'missing',
] as const satisfies readonly SpecimenStatus[];

export const UNCHANGED = 'unchanged';
export type TransitionOutcome = SpecimenStatus | typeof UNCHANGED;

export interface TransitionRule {
  readonly from: readonly SpecimenStatus[];
  readonly to: TransitionOutcome;
  /** Outcome instead of `to` when the action draws the last of the quantity, so the inventory
   * never offers an empty tube as available. */
  readonly toWhenDepleted?: SpecimenStatus;
}

const STORED = ['available', 'in_use'] as const satisfies readonly SpecimenStatus[];

export const SPECIMEN_TRANSITIONS = {
  // Registered ahead of arrival (e.g. from the LIS), then received at the bench.
  receive: { from: ['pending'], to: 'available' },
  // Receipt may skip an explicit `receive` when the tube goes straight into a box.
  store: { from: ['pending', 'available'], to: 'available' },
  // Reserved tubes stay movable: a freezer failure or a pick list moves them before shipping.
  move: { from: ['available', 'reserved'], to: UNCHANGED },
  check_out: { from: ['available'], to: 'in_use' },
  check_in: { from: ['in_use'], to: 'available' },
  consume: { from: STORED, to: UNCHANGED, toWhenDepleted: 'consumed' },
  aliquot: { from: STORED, to: UNCHANGED, toWhenDepleted: 'consumed' },
  derive: { from: STORED, to: UNCHANGED, toWhenDepleted: 'consumed' },
  reserve: { from: ['available'], to: 'reserved' },
  // A tube scanned out into a shipment that was never dispatched (the request cancelled, the
  // reservation expired) goes back to stock, without a position until it is stored again.
  release_reservation: { from: ['reserved', 'shipped'], to: 'available' },
  ship: { from: ['reserved'], to: 'shipped' },
  // The partner's receipt ends our custody.
  deliver: { from: ['shipped'], to: 'distributed' },
  // The receiving side of a shipment: the tube is born pending (known, not yet ours) and is in
  // hand at once, so the ledger registers it with the status this row gives (sharing receipt).
  receive_from_institution: { from: ['pending'], to: 'available' },
  destroy: { from: LIVE_STATUSES, to: 'destroyed' },
  mark_missing: { from: LIVE_STATUSES, to: 'missing' },
  // A found specimen goes back to stock; a hold placed while it was missing still applies.
  mark_found: { from: ['missing'], to: 'available' },
  // Holds also reach missing specimens, so a consent withdrawal still binds one that turns up.
  place_hold: { from: [...LIVE_STATUSES, 'missing'], to: UNCHANGED },
  release_hold: { from: [...LIVE_STATUSES, 'missing'], to: UNCHANGED },
  // Record keeping, not lab work (RECORD_KEEPING_ACTIONS): correcting descriptive fields is always
  // allowed; a tube moves with its box whatever its status; a withdrawal reaches every tube of the
  // donor, even one already gone, so the record shows it; a re-consent lifts the hold from any tube
  // that still exists.
  edit: { from: SPECIMEN_STATUSES, to: UNCHANGED },
  relocate_with_container: { from: SPECIMEN_STATUSES, to: UNCHANGED },
  withdraw_consent: { from: SPECIMEN_STATUSES, to: UNCHANGED },
  lift_consent_hold: {
    from: ['pending', 'available', 'in_use', 'reserved', 'shipped', 'distributed', 'missing'],
    to: UNCHANGED,
  },
} as const satisfies Record<SpecimenAction, TransitionRule>;

// A hold blocks use and sharing (DESIGN.md section 3). It does not block what keeps the
// specimen safe or accounted for: storage moves, check-in, destruction (often the very reason
// for the hold), reporting it missing or found, releasing a reservation (a withdrawal pulls
// items out of open requests) and recording a delivery that has physically happened.
const BLOCKED_BY_HOLD: ReadonlySet<SpecimenAction> = new Set<SpecimenAction>([
  'check_out',
  'consume',
  'aliquot',
  'derive',
  'reserve',
  'ship',
]);

/**
 * Actions the ledger takes on the record's behalf: not offered to a person as something to do (a
 * receipt from another institution creates the specimen, so there is no tube to offer it on).
 */
export const RECORD_KEEPING_ACTIONS: ReadonlySet<SpecimenAction> = new Set<SpecimenAction>([
  'receive_from_institution',
  'edit',
  'relocate_with_container',
  'withdraw_consent',
  'lift_consent_hold',
]);

export function actionBlockedByHold(action: SpecimenAction): boolean {
  return BLOCKED_BY_HOLD.has(action);
}

export function isLiveStatus(status: SpecimenStatus): boolean {
  return (LIVE_STATUSES as readonly SpecimenStatus[]).includes(status);
}

export interface TransitionOptions {
  /** The action draws the last of the quantity (consume, aliquot, derive). */
  readonly depleted?: boolean;
  /** The specimen carries a hold. */
  readonly held?: boolean;
}

export type TransitionResult =
  | { readonly ok: true; readonly to: SpecimenStatus }
  | { readonly ok: false; readonly blockedBy: 'status' | 'hold'; readonly reason: string };

/**
 * The status `action` leads to from `status`, or why it is refused. `to` equals `status` for
 * actions that leave it unchanged. Refusals by status map to INVALID_TRANSITION; by hold, to the
 * service's hold error.
 */
export function transition(
  status: SpecimenStatus,
  action: SpecimenAction,
  options: TransitionOptions = {},
): TransitionResult {
  const rule: TransitionRule = SPECIMEN_TRANSITIONS[action];
  if (!rule.from.includes(status)) {
    return {
      ok: false,
      blockedBy: 'status',
      reason: `cannot ${action} a specimen that is ${status}`,
    };
  }
  if (options.held === true && actionBlockedByHold(action)) {
    return { ok: false, blockedBy: 'hold', reason: `cannot ${action} a specimen that is on hold` };
  }
  if (options.depleted === true && rule.toWhenDepleted !== undefined) {
    return { ok: true, to: rule.toWhenDepleted };
  }
  return { ok: true, to: rule.to === UNCHANGED ? status : rule.to };
}

/** Lab actions the table accepts from `status`, in SPECIMEN_ACTIONS order; without the hold-blocked
 * ones when `held`, and without record keeping. */
export function allowedActions(status: SpecimenStatus, options: { held?: boolean } = {}): SpecimenAction[] {
  return SPECIMEN_ACTIONS.filter((action) => {
    if (RECORD_KEEPING_ACTIONS.has(action)) return false;
    const from: readonly SpecimenStatus[] = SPECIMEN_TRANSITIONS[action].from;
    return from.includes(status) && !(options.held === true && actionBlockedByHold(action));
  });
}
