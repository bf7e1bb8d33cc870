// The specimen ledger's bulk rules, pure: how a new specimen's whole custody history is replayed
// through the lifecycle table, event by event, as the ledger's commands would have checked it;
// what the row must state at the end; and how lineage and places must hang together.
// specimens.ledger-bulk.ts hashes and writes what passes.
import { validationFailed, type DomainError } from '../../errors.js';
import type { CustodyEventType } from '../custody/index.js';
import {
  containerNotFound,
  labelOf,
  notASpecimenContainer,
  SPECIMEN_HOLDERS,
  typeAllowed,
  typeNotAllowed,
  type ContainerRow,
} from '../storage/index.js';
import { externalIdTaken, holdExists, holdNotFound, insufficientQuantity } from './specimens.errors.js';
import { refuse } from './specimens.ledger-rules.js';
import { transition, type SpecimenAction, type SpecimenStatus } from './specimens.lifecycle.js';
import { HOLD_REASONS, type HoldReason, type SpecimenRow } from './specimens.table.js';

/** A new specimen's row as it stands after its history (chain head, version and times: the ledger's). */
export type ImportedSpecimen = Omit<
  SpecimenRow,
  'institutionId' | 'qcStatus' | 'custodySeq' | 'custodyHead' | 'version' | 'createdAt' | 'updatedAt'
>;

/** One custody event of a history. Where the tube was (`from`) is the ledger's to work out. */
export interface ImportedEvent {
  type: CustodyEventType;
  occurredAt: Date;
  recordedAt: Date;
  /** the request (or import step) it belongs to; default: the import's */
  requestId?: string;
  /** where the tube went: stored, moved, received, checked_in, found */
  toContainerId?: string | null;
  toPosition?: string | null;
  /** birth: + the initial quantity; consumed, aliquoted, derived: - the draw; destroyed: - what was left */
  quantityChange?: number | null;
  details?: Record<string, unknown>;
}

/**
 * A specimen and everything that happened to it, oldest first: `collected` (or `registered`
 * when no collection time is known) for a primary, `created_from_parent` for an aliquot or
 * derivative (its parent in the same import), then, as `ledger.register` writes it, `stored`
 * when it went straight into a position.
 */
export interface SpecimenHistory {
  specimen: ImportedSpecimen;
  events: ImportedEvent[];
}

/** Where a tube is during the replay, and what the ledger would have recorded so far. */
export interface Replay {
  institutionId: string;
  /** events replayed so far, and when the first and the last were recorded */
  seq: number;
  bornAt: Date;
  lastAt: Date;
  status: SpecimenStatus;
  quantity: number;
  containerId: string | null;
  position: string | null;
  holds: HoldReason[];
  thaws: number;
  /** commands after the birth: each bumps the row's version */
  commands: number;
}

/** Quantities are numeric(14,4): the ledger subtracts at that scale. */
export const scale4 = (v: number) => Math.round(v * 10_000) / 10_000;

/** A history the ledger would not have written: malformed, or not what the row states. */
function invalidHistory(s: ImportedSpecimen, seq: number, type: string, reason: string): DomainError {
  return validationFailed([{ field: `specimens.${s.barcode}.events.${seq}`, message: `${type}: ${reason}` }]);
}

/**
 * The tube as the ledger would hold it at this point of the replay, for the ledger's own refusals
 * to describe (its chain head is the writer's to compute, so it is left out).
 */
const asRow = (s: ImportedSpecimen, r: Replay): SpecimenRow => ({
  ...s,
  institutionId: r.institutionId,
  status: r.status,
  holds: r.holds,
  availableQuantity: r.quantity,
  containerId: r.containerId,
  freezeThawCount: r.thaws,
  qcStatus: 'unchecked',
  custodySeq: r.seq,
  custodyHead: null,
  version: 1 + r.commands,
  createdAt: r.bornAt,
  updatedAt: r.lastAt,
});

/**
 * The status `action` leads to, or the ledger's own refusal of it for the tube as replayed so far
 * (INVALID_TRANSITION, SPECIMEN_ON_HOLD).
 */
function step(s: ImportedSpecimen, r: Replay, action: SpecimenAction, depleted = false): SpecimenStatus {
  const t = transition(r.status, action, { held: r.holds.length > 0, depleted });
  return t.ok ? t.to : refuse(asRow(s, r), action, { depleted });
}

/** Events that put the tube somewhere name where; the others name no target. */
const PLACING = new Set<CustodyEventType>(['stored', 'moved', 'received', 'checked_in', 'found']);
const DRAWS = { consumed: 'consume', aliquoted: 'aliquot', derived: 'derive' } as const;

const vacate = (r: Replay) => {
  r.containerId = null;
  r.position = null;
};

/**
 * Replays one event after the birth: checks it as the ledger checks the command that writes it
 * and moves the replay on. True when the ledger's event names the place the tube leaves.
 */
function replayEvent(s: ImportedSpecimen, r: Replay, e: ImportedEvent, seq: number, prev: string): boolean {
  const type = e.type;
  const to = e.toContainerId ?? null;
  if (to === null ? e.toPosition != null : !PLACING.has(type))
    throw invalidHistory(
      s,
      seq,
      type,
      'only stored, moved, received, checked_in and found events name a target',
    );
  switch (type) {
    case 'stored':
    case 'moved':
      if (to === null) throw invalidHistory(s, seq, type, 'names no target position');
      // The ledger records storing a tube that already has a place as a move.
      if (type === 'stored' && r.containerId !== null)
        throw invalidHistory(s, seq, type, 'the tube already has a place: the ledger records moved');
      r.status = step(s, r, type === 'stored' ? 'store' : 'move');
      r.containerId = to;
      r.position = e.toPosition ?? null;
      return true;
    case 'received':
    case 'checked_in':
    case 'found':
      r.status = step(s, r, type === 'received' ? 'receive' : type === 'found' ? 'mark_found' : 'check_in');
      if (to !== null) {
        r.containerId = to;
        r.position = e.toPosition ?? null;
      }
      return type === 'checked_in';
    case 'thawed':
      // The ledger counts a thaw only with the check-in that reports it.
      if (prev !== 'checked_in')
        throw invalidHistory(s, seq, type, 'a thaw follows the check-in that reports it');
      r.thaws++;
      return false;
    case 'checked_out':
      r.status = step(s, r, 'check_out');
      return true;
    case 'consumed':
    case 'aliquoted':
    case 'derived': {
      const change = e.quantityChange;
      if (typeof change !== 'number' || !(change < 0))
        throw invalidHistory(s, seq, type, 'a draw needs a negative quantityChange');
      // Status and holds first: a destroyed tube is refused as such, not as empty.
      step(s, r, DRAWS[type]);
      const remaining = scale4(r.quantity + change);
      if (remaining < 0) throw insufficientQuantity({ row: asRow(s, r), quantity: -change });
      r.quantity = remaining;
      r.status = step(s, r, DRAWS[type], remaining === 0);
      // A tube drawn to nothing is consumed and leaves its position.
      if (r.status !== 'consumed') return false;
      vacate(r);
      return true;
    }
    case 'destroyed': {
      const expected = r.quantity ? -r.quantity : null;
      if ((e.quantityChange ?? null) !== expected)
        throw invalidHistory(s, seq, type, `destroying writes off what is left (${expected ?? 'nothing'})`);
      r.status = step(s, r, 'destroy');
      r.quantity = 0;
      vacate(r);
      return true;
    }
    case 'marked_missing':
      r.status = step(s, r, 'mark_missing');
      vacate(r);
      return true;
    case 'shipped':
      r.status = step(s, r, 'ship');
      vacate(r);
      return true;
    case 'reserved':
    case 'reservation_released':
    case 'received_by_partner':
      r.status = step(
        s,
        r,
        type === 'reserved' ? 'reserve' : type === 'received_by_partner' ? 'deliver' : 'release_reservation',
      );
      return false;
    case 'consent_withdrawn':
      r.status = step(s, r, 'withdraw_consent');
      if (!r.holds.includes('CONSENT_WITHDRAWN')) r.holds.push('CONSENT_WITHDRAWN');
      return false;
    case 'hold_placed':
    case 'hold_released': {
      const reason = e.details?.reason as HoldReason;
      if (!HOLD_REASONS.includes(reason)) throw invalidHistory(s, seq, type, 'names no hold reason');
      if (type === 'hold_released' && e.details?.reconsent === true) {
        r.status = step(s, r, 'lift_consent_hold');
      } else {
        r.status = step(s, r, type === 'hold_placed' ? 'place_hold' : 'release_hold');
        if (type === 'hold_placed' && r.holds.includes(reason)) throw holdExists(asRow(s, r), reason);
        if (type === 'hold_released' && !r.holds.includes(reason)) throw holdNotFound(asRow(s, r), reason);
      }
      if (type === 'hold_placed') r.holds.push(reason);
      else r.holds = r.holds.filter((h) => h !== reason);
      return false;
    }
    case 'registered':
    case 'collected':
    case 'created_from_parent':
      throw invalidHistory(s, seq, type, 'comes only first, as the birth');
    default:
      throw invalidHistory(s, seq, type, `the ledger does not record ${type} events`);
  }
}

/** The status, quantity and place `ledger.register` gives a new tube; returns how many events that covers. */
function birth(s: ImportedSpecimen, events: readonly ImportedEvent[], r: Replay): number {
  const first = events[0];
  if (!first) throw invalidHistory(s, 1, 'none', 'a history starts with the birth');
  const primary = s.lineage === 'primary';
  const expected = primary ? (s.collectedAt ? 'collected' : 'registered') : 'created_from_parent';
  if (first.type !== expected)
    throw invalidHistory(s, 1, first.type, `a new ${s.lineage} starts with ${expected}`);
  if (first.toContainerId != null || first.toPosition != null)
    throw invalidHistory(s, 1, first.type, 'the birth names no position: a stored event follows it');
  if (first.quantityChange !== s.initialQuantity)
    throw invalidHistory(s, 1, first.type, `the birth brings the initial quantity (${s.initialQuantity})`);
  if (!primary && (first.details?.parentId !== s.parentId || first.details?.lineage !== s.lineage))
    throw invalidHistory(s, 1, first.type, 'names another parent or lineage than the row');
  if (primary && s.rootId !== s.id) throw invalidHistory(s, 1, first.type, 'a primary is its own root');
  r.quantity = s.initialQuantity;
  const stored = events[1];
  if (stored?.type !== 'stored') {
    r.status = primary ? 'pending' : 'in_use';
    return 1;
  }
  if (!stored.toContainerId) throw invalidHistory(s, 2, 'stored', 'names no target position');
  r.status = 'available';
  r.containerId = stored.toContainerId;
  r.position = stored.toPosition ?? null;
  return 2;
}

/** The row must state what its history ends with. */
function checkOutcome(s: ImportedSpecimen, r: Replay, seq: number, type: string): void {
  const differs = (what: string, stated: unknown, replayed: unknown) =>
    invalidHistory(
      s,
      seq,
      type,
      `the row states ${what} ${String(stated)}; its history ends with ${String(replayed)}`,
    );
  if (s.status !== r.status) throw differs('status', s.status, r.status);
  if (scale4(s.availableQuantity) !== r.quantity) throw differs('quantity', s.availableQuantity, r.quantity);
  if (s.containerId !== r.containerId) throw differs('container', s.containerId, r.containerId);
  if (s.freezeThawCount !== r.thaws) throw differs('freeze-thaw count', s.freezeThawCount, r.thaws);
  if (s.holds.length !== r.holds.length || !r.holds.every((h) => s.holds.includes(h)))
    throw differs('holds', s.holds.join(', ') || 'none', r.holds.join(', ') || 'none');
}

/** Called for each event of a replayed history with the place the ledger's event names as left. */
export type ReplayVisitor = (
  e: ImportedEvent,
  seq: number,
  fromContainerId: string | null,
  fromPosition: string | null,
) => void;

/**
 * Replays a history from the birth to its last event, telling `visit` about each, and checks that
 * the row states where it ended. Returns the replay's end (its `commands` give the row's version).
 * Throws as `importSpecimenHistories`.
 */
export function replayHistory(h: SpecimenHistory, institutionId: string, visit: ReplayVisitor): Replay {
  const s = h.specimen;
  const events = h.events;
  const bornAt = events[0]?.recordedAt ?? new Date(0);
  const r: Replay = {
    institutionId,
    seq: 0,
    bornAt,
    lastAt: bornAt,
    status: 'pending',
    quantity: 0,
    containerId: null,
    position: null,
    holds: [],
    thaws: 0,
    commands: 0,
  };
  const born = birth(s, events, r);
  visit(events[0]!, 1, null, null);
  if (born === 2) visit(events[1]!, 2, null, null);
  r.seq = born;
  r.lastAt = events[born - 1]!.recordedAt;
  for (let i = born; i < events.length; i++) {
    const e = events[i]!;
    const fromContainerId = r.containerId;
    const fromPosition = r.position;
    const leaves = replayEvent(s, r, e, i + 1, events[i - 1]!.type);
    // `received` names the container the tube had, without a position (as the ledger writes it).
    visit(e, i + 1, leaves || e.type === 'received' ? fromContainerId : null, leaves ? fromPosition : null);
    // A thaw is written with the check-in that reports it: one command, one version.
    if (e.type !== 'thawed') r.commands++;
    r.seq = i + 1;
    r.lastAt = e.recordedAt;
  }
  checkOutcome(s, r, events.length, events[events.length - 1]!.type);
  return r;
}

/**
 * The parent of each aliquot or derivative is in the import, and its chain records the draw the
 * child came from (`parentCustodySeq`) and names the child.
 */
export function checkLineage(items: readonly SpecimenHistory[]): void {
  const byId = new Map<string, SpecimenHistory>();
  for (const h of items) byId.set(h.specimen.id, h);
  for (const { specimen: s, events } of items) {
    if (s.parentId === null) continue;
    const parent = byId.get(s.parentId);
    const seq = events[0]!.details?.parentCustodySeq;
    const draw = typeof seq === 'number' ? parent?.events[seq - 1] : undefined;
    const children = draw?.details?.children;
    const expected = s.lineage === 'aliquot' ? 'aliquoted' : 'derived';
    if (
      !parent ||
      parent.specimen.rootId !== s.rootId ||
      draw?.type !== expected ||
      !Array.isArray(children) ||
      !children.some((c: { id?: unknown }) => c.id === s.id)
    )
      throw invalidHistory(
        s,
        1,
        'created_from_parent',
        `its parent and the ${expected} event that drew it must be in the same import`,
      );
  }
}

/** An external id a tube of the import will hold, and where the import lists it (for errors). */
export interface HeldExternalId {
  specimenId: string;
  system: string;
  value: string;
  field: string;
}

/**
 * The external ids the tubes will hold, each pair once per tube. An LIS id names one tube: a pair
 * two tubes of the import list is refused as the ledger refuses it (EXTERNAL_ID_TAKEN, naming the
 * first tube).
 */
export function externalIdsOf(items: readonly SpecimenHistory[]): HeldExternalId[] {
  const holders = new Map<string, ImportedSpecimen>();
  const held: HeldExternalId[] = [];
  for (const { specimen: s } of items) {
    for (const [j, e] of s.externalIds.entries()) {
      const key = JSON.stringify([e.system, e.value]);
      const holder = holders.get(key);
      if (holder === s) continue;
      const field = `specimens.${s.barcode}.externalIds.${j}`;
      if (holder) throw externalIdTaken(e.system, e.value, holder.barcode, field);
      holders.set(key, s);
      held.push({ specimenId: s.id, system: e.system, value: e.value, field });
    }
  }
  return held;
}

/** Every place is a specimen container of the institution, and the row's position is the one stored. */
export function checkPlaces(
  items: readonly SpecimenHistory[],
  byId: Map<string, ContainerRow>,
  places: Map<string, SpecimenHistory>,
): void {
  for (const [id, h] of places) {
    const c = byId.get(id);
    const field = `specimens.${h.specimen.barcode}.events`;
    if (!c) throw containerNotFound(id, field);
    if (!SPECIMEN_HOLDERS.includes(c.kind)) throw notASpecimenContainer(c, field);
  }
  for (const { specimen: s, events } of items) {
    if (s.containerId === null) continue;
    const c = byId.get(s.containerId)!;
    const blocker = typeAllowed(c, byId, s.type);
    if (blocker) throw typeNotAllowed(s.type, blocker, `specimens.${s.barcode}.containerId`, s.barcode);
    const label = labelOf(c, s.positionRow, s.positionCol);
    let stored: string | null = null;
    for (const e of events) if (e.toContainerId) stored = e.toPosition ?? null;
    if (label !== stored)
      throw invalidHistory(
        s,
        events.length,
        events[events.length - 1]!.type,
        `the row's position ${label ?? 'none'} is not ${stored ?? 'none'}, where its history left it`,
      );
  }
}
