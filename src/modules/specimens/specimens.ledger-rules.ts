// The specimen ledger's rules, pure: how each command is checked against the lifecycle table and
// which row patch and custody events it makes. specimens.ledger.ts writes what these decide.
import { versionConflict } from '../../errors.js';
import type { CustodyEventInput } from '../custody/index.js';
import type { ContainerRow } from '../storage/index.js';
import type { SpecimenCommand, SpecimenCommandCheck } from './specimens.commands.js';
import {
  holdExists,
  holdNotFound,
  insufficientQuantity,
  invalidTransition,
  specimenOnHold,
} from './specimens.errors.js';
import { transition, type SpecimenAction } from './specimens.lifecycle.js';
import type { NewSpecimenRow } from './specimens.repo.js';
import type { SpecimenRow } from './specimens.table.js';

export type EventInput = Omit<CustodyEventInput, 'specimenId' | 'institutionId'>;

/** One specimen's change: its patch, the custody events it implies and the audit action. */
export interface SpecimenChange {
  before: SpecimenRow;
  patch: Partial<NewSpecimenRow>;
  events: EventInput[];
  action: string;
  /** optimistic concurrency: the row must still be at this version */
  expectedVersion?: number;
}

/** Where a tube is leaving from, for the custody event. */
export type From = { fromContainerId: string | null; fromPosition: string | null };

/** The lifecycle action each command is checked as. */
const ACTION_OF: Record<SpecimenCommand['kind'], SpecimenAction> = {
  receive: 'receive',
  store: 'store',
  move: 'move',
  check_in: 'check_in',
  check_out: 'check_out',
  consume: 'consume',
  destroy: 'destroy',
  mark_missing: 'mark_missing',
  mark_found: 'mark_found',
  place_hold: 'place_hold',
  release_hold: 'release_hold',
  withdraw_consent: 'withdraw_consent',
  lift_consent_hold: 'lift_consent_hold',
  container_moved: 'relocate_with_container',
  draw: 'aliquot',
  edit: 'edit',
  reserve: 'reserve',
  release_reservation: 'release_reservation',
  ship: 'ship',
  deliver: 'deliver',
};

/** The audit action (= operationId) each command records unless the caller names another. */
export const AUDIT_ACTION: Record<SpecimenCommand['kind'], string> = {
  receive: 'receiveSpecimen',
  store: 'storeSpecimen',
  move: 'moveSpecimen',
  check_in: 'checkInSpecimen',
  check_out: 'checkOutSpecimen',
  consume: 'consumeSpecimen',
  destroy: 'destroySpecimen',
  mark_missing: 'markSpecimenMissing',
  mark_found: 'markSpecimenFound',
  place_hold: 'placeHold',
  release_hold: 'releaseHold',
  withdraw_consent: 'withdrawConsent',
  lift_consent_hold: 'reconsent',
  container_moved: 'moveContainer',
  draw: 'aliquotSpecimen',
  edit: 'updateSpecimen',
  reserve: 'reserveSpecimen',
  release_reservation: 'releaseReservation',
  ship: 'shipSpecimen',
  deliver: 'deliverSpecimen',
};

const noteOf = (note: string | undefined) => (note ? { note } : {});
/** Quantities are numeric(12,4): subtract at that scale so 0.3 - 0.1 - 0.2 is exactly nothing left. */
const minus = (a: number, b: number) => Math.round((a - b) * 10_000) / 10_000;

/**
 * The status a lifecycle action leads to, or the refusal as a domain error: INVALID_TRANSITION
 * (status) or SPECIMEN_ON_HOLD (a hold blocks use and sharing).
 */
export function refuse(row: SpecimenRow, action: SpecimenAction, opts: { depleted?: boolean } = {}) {
  const t = transition(row.status, action, { held: row.holds.length > 0, depleted: opts.depleted });
  if (t.ok) return t.to;
  if (t.blockedBy === 'hold') throw specimenOnHold(row, action);
  throw invalidTransition(row, action);
}

function drawn(row: SpecimenRow, quantity: number, action: SpecimenAction) {
  // Status and holds first: a consumed or destroyed tube is refused as such, not as empty.
  refuse(row, action);
  const remaining = minus(row.availableQuantity, quantity);
  if (remaining < 0) throw insufficientQuantity({ row, quantity });
  return { remaining, to: refuse(row, action, { depleted: remaining === 0 }) };
}

/** Checks a command against the lifecycle table and the tube's own state; writes nothing. */
export function checkCommand(c: SpecimenCommandCheck): void {
  const row = c.specimen;
  switch (c.kind) {
    case 'consume':
      drawn(row, c.quantity, 'consume');
      return;
    case 'draw':
      drawn(row, c.quantity, c.lineage === 'aliquot' ? 'aliquot' : 'derive');
      return;
    case 'place_hold':
      refuse(row, 'place_hold');
      if (row.holds.includes(c.reason)) throw holdExists(row, c.reason);
      return;
    case 'release_hold':
      refuse(row, 'release_hold');
      if (!row.holds.includes(c.reason)) throw holdNotFound(row, c.reason);
      return;
    default:
      refuse(row, ACTION_OF[c.kind]);
  }
}

/** Does this command leave a position (and so needs the place it leaves for its event)? */
export function leavesFrom(c: SpecimenCommand): boolean {
  switch (c.kind) {
    case 'store':
    case 'move':
    case 'check_in':
    case 'check_out':
    case 'destroy':
    case 'mark_missing':
    case 'ship':
      return c.specimen.containerId !== null;
    case 'consume':
      return c.specimen.containerId !== null && minus(c.specimen.availableQuantity, c.quantity) === 0;
    case 'draw':
      return c.specimen.containerId !== null && minus(c.specimen.availableQuantity, c.quantity) === 0;
    default:
      return false;
  }
}

export const placed = (p: { container: ContainerRow; row: number | null; col: number | null } | null) =>
  p ? { containerId: p.container.id, positionRow: p.row, positionCol: p.col } : {};
const vacated = { containerId: null, positionRow: null, positionCol: null };

/** The patch, custody events and audit action of one checked command. */
export function changeOf(
  c: SpecimenCommand,
  from: From,
  opts: { countThaw: boolean; now: Date },
): SpecimenChange {
  const row = c.specimen;
  const occurredAt = c.occurredAt ?? null;
  const action = c.action ?? AUDIT_ACTION[c.kind];
  const base = { before: row, action };
  switch (c.kind) {
    case 'receive':
    case 'store':
    case 'move':
    case 'check_in': {
      const to = refuse(row, c.kind);
      // Storing a tube that already has a place relocates it: the ledger says `moved`.
      const type =
        c.kind === 'receive'
          ? 'received'
          : c.kind === 'check_in'
            ? 'checked_in'
            : c.kind === 'move' || row.containerId
              ? 'moved'
              : 'stored';
      const patch: Partial<NewSpecimenRow> = { status: to, ...placed(c.placement) };
      if (c.kind === 'receive') patch.receivedAt = occurredAt ?? opts.now;
      const details = 'details' in c && c.details ? c.details : {};
      const events: EventInput[] = [
        {
          type,
          occurredAt,
          ...(c.kind === 'receive' ? { fromContainerId: row.containerId, fromPosition: null } : from),
          // A plain check-in returns the tube to the position kept for it: the event names it.
          ...(c.kind === 'check_in' && !c.placement
            ? { toContainerId: from.fromContainerId, toPosition: from.fromPosition }
            : { toContainerId: c.placement?.container.id ?? null, toPosition: c.placement?.label ?? null }),
          details: { ...details, ...noteOf(c.note) },
        },
      ];
      if (c.kind === 'check_in' && c.thawed && opts.countThaw) {
        patch.freezeThawCount = row.freezeThawCount + 1;
        events.push({ type: 'thawed', occurredAt, details: { freezeThawCount: row.freezeThawCount + 1 } });
      }
      return { ...base, patch, events };
    }
    case 'check_out':
      return {
        ...base,
        patch: { status: refuse(row, 'check_out') },
        events: [
          {
            type: 'checked_out',
            occurredAt,
            ...from,
            details: { ...(c.use ? { use: c.use } : {}), ...noteOf(c.note) },
          },
        ],
      };
    case 'consume':
    case 'draw': {
      const action = c.kind === 'consume' ? 'consume' : c.lineage === 'aliquot' ? 'aliquot' : 'derive';
      const { remaining, to } = drawn(row, c.quantity, action);
      // A tube drawn to nothing is consumed and leaves its position.
      const leaves = to === 'consumed';
      return {
        ...base,
        action:
          c.action ??
          (c.kind === 'consume'
            ? 'consumeSpecimen'
            : c.lineage === 'aliquot'
              ? 'aliquotSpecimen'
              : 'deriveSpecimen'),
        patch: { availableQuantity: remaining, status: to, ...(leaves ? vacated : {}) },
        events: [
          {
            type: c.kind === 'consume' ? 'consumed' : c.lineage === 'aliquot' ? 'aliquoted' : 'derived',
            occurredAt,
            quantityChange: -c.quantity,
            ...(leaves ? from : {}),
            details:
              c.kind === 'consume'
                ? noteOf(c.note)
                : { children: c.children, ...(c.use ? { use: c.use } : {}), ...noteOf(c.note) },
          },
        ],
      };
    }
    case 'destroy':
      return {
        ...base,
        patch: { status: refuse(row, 'destroy'), availableQuantity: 0, ...vacated },
        events: [
          {
            type: 'destroyed',
            occurredAt,
            ...from,
            quantityChange: row.availableQuantity ? -row.availableQuantity : null,
            details: { ...(c.reason ? { reason: c.reason } : {}), ...c.details, ...noteOf(c.note) },
          },
        ],
      };
    case 'mark_missing':
      return {
        ...base,
        patch: { status: refuse(row, 'mark_missing'), ...vacated },
        events: [
          {
            type: 'marked_missing',
            occurredAt,
            ...from,
            details: { ...(c.reason ? { reason: c.reason } : {}), ...noteOf(c.note) },
          },
        ],
      };
    case 'mark_found':
      return {
        ...base,
        patch: { status: refuse(row, 'mark_found'), ...placed(c.placement) },
        events: [
          {
            type: 'found',
            occurredAt,
            toContainerId: c.placement?.container.id ?? null,
            toPosition: c.placement?.label ?? null,
            details: noteOf(c.note),
          },
        ],
      };
    case 'place_hold':
    case 'release_hold':
      checkCommand(c);
      return {
        ...base,
        patch: {
          holds: c.kind === 'place_hold' ? [...row.holds, c.reason] : row.holds.filter((h) => h !== c.reason),
        },
        events: [
          {
            type: c.kind === 'place_hold' ? 'hold_placed' : 'hold_released',
            occurredAt,
            details: { reason: c.reason, ...c.details, ...noteOf(c.note) },
          },
        ],
      };
    case 'withdraw_consent':
      refuse(row, 'withdraw_consent');
      return {
        ...base,
        patch: row.holds.includes('CONSENT_WITHDRAWN') ? {} : { holds: [...row.holds, 'CONSENT_WITHDRAWN'] },
        events: [
          { type: 'consent_withdrawn', occurredAt, details: { consentId: c.consentId, scope: c.scope } },
        ],
      };
    case 'lift_consent_hold':
      refuse(row, 'lift_consent_hold');
      return {
        ...base,
        patch: { holds: row.holds.filter((h) => h !== 'CONSENT_WITHDRAWN') },
        events: [
          {
            type: 'hold_released',
            occurredAt,
            details: { reason: 'CONSENT_WITHDRAWN', consentId: c.consentId, reconsent: true },
          },
        ],
      };
    case 'container_moved':
      refuse(row, 'relocate_with_container');
      return { ...base, patch: {}, events: [] /* completed in apply: needs the new path */ };
    case 'edit':
      refuse(row, 'edit');
      if (row.version !== c.expectedVersion)
        throw versionConflict(`specimen ${row.barcode}`, c.expectedVersion, row.version);
      return { ...base, patch: c.patch, events: [], expectedVersion: c.expectedVersion };
    case 'reserve':
    case 'release_reservation':
    case 'ship':
    case 'deliver': {
      const to = refuse(row, c.kind);
      const type = (
        {
          reserve: 'reserved',
          release_reservation: 'reservation_released',
          ship: 'shipped',
          deliver: 'received_by_partner',
        } as const
      )[c.kind];
      const leaves = c.kind === 'ship';
      return {
        ...base,
        patch: { status: to, ...(leaves ? vacated : {}) },
        events: [{ type, occurredAt, ...(leaves ? from : {}), details: { ...c.details, ...noteOf(c.note) } }],
      };
    }
  }
}
