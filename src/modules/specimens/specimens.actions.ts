// What a technician does to one tube: receive, store, move, check out and in, consume, destroy,
// report missing or found, place and release holds, and edit its descriptive fields. Each is one
// ledger command under the tube's row lock.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, type Operation } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { planPlacements, type Placement } from '../storage/index.js';
import { keepsItsPlace, type SpecimenCommand } from './specimens.commands.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import { assertExternalIdsFree, changedOnly, editOf } from './specimens.edits.js';
import { versionConflict } from '../../errors.js';
import {
  holdManagedByConsent,
  placementRace,
  positionWithoutContainer,
  specimenNotFound,
} from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import type { UpdateSpecimenInput } from './specimens.schemas.js';
import { CONSENT_HOLDS, type HoldReason, type SpecimenRow } from './specimens.table.js';
import {
  PREANALYTICAL_TIMES,
  definedTimes,
  futurePreanalyticalTime,
  storedTimes,
  timeBeforeCollectionOf,
} from './specimens.times.js';
import type { UseGate } from './specimens.use-gate.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

/** What every action may carry: when it happened, a note, and the version the caller last read (If-Match). */
type When = { occurredAt?: string; note?: string; expectedVersion?: ExpectedVersion };
type Target = { containerId?: string; position?: string };

const occurred = (iso: string | undefined) => (iso ? new Date(iso) : null);

export function createSpecimenActions(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { db, ledger, useGate } = deps;

  /** Locks the tube, builds its command, applies it, answers the tube with its location. */
  async function act(
    ctx: Ctx,
    id: string,
    op: Operation,
    when: Pick<When, 'expectedVersion'>,
    /** the command to apply, or null when the call changes nothing (nothing is written) */
    build: (tx: Tx, row: SpecimenRow) => Promise<SpecimenCommand | null>,
  ): Promise<SpecimenView> {
    const expected = when.expectedVersion;
    authorize(ctx.actor, op);
    const institutionId = actorInstitutionId(ctx.actor);
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) => {
        const [row] = await ledger.lock(tx, institutionId, [id]);
        if (!row) throw specimenNotFound(id);
        // A precondition sent with an action holds as an update's does (412 when it moved on).
        if (expected !== undefined && resolveVersion(expected, row.version) !== row.version)
          throw versionConflict(`specimen ${row.barcode}`, expected, row.version);
        const command = await build(tx, row);
        const [after] = command ? await ledger.apply(tx, ctx, [command]) : [row];
        return (await specimenViews(tx, institutionId, [after!]))[0]!;
      }),
    );
  }

  /** Plans a position for the tube: checked after the lifecycle, as the table decides first. */
  async function placeOne(tx: Tx, row: SpecimenRow, target: { containerId: string; position?: string }) {
    const plan = await planPlacements(tx, row.institutionId, [
      {
        index: 0,
        field: '',
        containerId: target.containerId,
        position: target.position,
        type: row.type,
        specimenId: row.id,
      },
    ]);
    const err = plan.errors.get(0);
    if (err) throw err;
    return plan.placements.get(0)!;
  }
  /**
   * A position says nothing without its container: refused (400), never dropped. Checked before
   * the lifecycle, as it is the call's own mistake whatever the tube's state.
   */
  const assertTargetComplete = (t: Target): void => {
    const refused = positionWithoutContainer(t);
    if (refused) throw refused;
  };
  /** Where a tube is put when the call says so. */
  const placeIfAsked = async (tx: Tx, row: SpecimenRow, t: Target): Promise<Placement | null> =>
    t.containerId ? placeOne(tx, row, { containerId: t.containerId, position: t.position }) : null;

  const base = (row: SpecimenRow, input: When) => ({
    specimen: row,
    occurredAt: occurred(input.occurredAt),
    note: input.note,
  });

  return {
    /** Receipt at the bench. Throws INVALID_TRANSITION. */
    async receiveSpecimen(ctx: Ctx, id: string, input: When & Target) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        assertTargetComplete(input);
        ledger.check({ kind: 'receive', specimen: row });
        return { kind: 'receive', ...base(row, input), placement: await placeIfAsked(tx, row, input) };
      });
    },

    /** Stores or moves a specimen into a box position. Throws INVALID_TRANSITION, POSITION_OCCUPIED, TYPE_NOT_ALLOWED. */
    async storeSpecimen(ctx: Ctx, id: string, input: When & { containerId: string; position?: string }) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        // The `store` rule decides, whatever the tube's current place: a reserved tube is moved
        // with `move`, a checked-out one comes back with `check_in`.
        const command = { kind: 'store' as const, ...base(row, input) };
        ledger.check(command);
        const placed = { ...command, placement: await placeOne(tx, row, input) };
        return keepsItsPlace(placed) ? null : placed;
      });
    },

    /** Moves a stored or reserved specimen. Throws INVALID_TRANSITION, POSITION_OCCUPIED, TYPE_NOT_ALLOWED. */
    async moveSpecimen(ctx: Ctx, id: string, input: When & { containerId: string; position?: string }) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        const command = { kind: 'move' as const, ...base(row, input) };
        ledger.check(command);
        const placed = { ...command, placement: await placeOne(tx, row, input) };
        return keepsItsPlace(placed) ? null : placed;
      });
    },

    /** Takes a tube out for use; its position stays reserved for check-in. Throws INVALID_TRANSITION, SPECIMEN_ON_HOLD, CONSENT_NOT_GRANTED. */
    async checkOutSpecimen(ctx: Ctx, id: string, input: When & { use?: string }) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        const command: SpecimenCommand = { kind: 'check_out', ...base(row, input), use: input.use };
        ledger.check(command);
        await useGate.assertUsable(tx, ctx, [row], input.use);
        return command;
      });
    },

    /** Returns a tube; thawing counts a freeze-thaw cycle. Throws INVALID_TRANSITION, POSITION_OCCUPIED. */
    async checkInSpecimen(ctx: Ctx, id: string, input: When & Target & { thawed?: boolean }) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        assertTargetComplete(input);
        const command = { kind: 'check_in' as const, ...base(row, input), thawed: input.thawed ?? true };
        ledger.check(command);
        return { ...command, placement: await placeIfAsked(tx, row, input) };
      });
    },

    /** Uses up part of a specimen. Throws INSUFFICIENT_QUANTITY, INVALID_TRANSITION, SPECIMEN_ON_HOLD. */
    async consumeSpecimen(ctx: Ctx, id: string, input: When & { quantity: number }) {
      return act(ctx, id, 'specimens.handle', input, async (_tx, row) => ({
        kind: 'consume',
        ...base(row, input),
        quantity: input.quantity,
      }));
    },

    /** Destroys a specimen and frees its position. Throws INVALID_TRANSITION. */
    async destroySpecimen(ctx: Ctx, id: string, input: When & { reason?: string }) {
      return act(ctx, id, 'specimens.destroy', input, async (_tx, row) => ({
        kind: 'destroy',
        ...base(row, input),
        reason: input.reason,
      }));
    },

    /** Reports a tube missing; its recorded position is released. Throws INVALID_TRANSITION. */
    async markSpecimenMissing(ctx: Ctx, id: string, input: When & { reason?: string }) {
      return act(ctx, id, 'specimens.handle', input, async (_tx, row) => ({
        kind: 'mark_missing',
        ...base(row, input),
        reason: input.reason,
      }));
    },

    /** A missing tube turned up: it goes back to stock, optionally straight into a position. Throws INVALID_TRANSITION, POSITION_OCCUPIED. */
    async markSpecimenFound(ctx: Ctx, id: string, input: When & Target) {
      return act(ctx, id, 'specimens.handle', input, async (tx, row) => {
        assertTargetComplete(input);
        ledger.check({ kind: 'mark_found', specimen: row });
        return { kind: 'mark_found', ...base(row, input), placement: await placeIfAsked(tx, row, input) };
      });
    },

    /**
     * Places a hold (blocks use and sharing, keeps status). Throws HOLD_EXISTS, INVALID_TRANSITION,
     * HOLD_MANAGED_BY_CONSENT.
     */
    async placeHold(ctx: Ctx, id: string, input: When & { reason: HoldReason }) {
      return act(ctx, id, 'specimens.holds', input, async (_tx, row) => {
        if (CONSENT_HOLDS.has(input.reason)) throw holdManagedByConsent(row, input.reason);
        return { kind: 'place_hold', ...base(row, input), reason: input.reason };
      });
    },

    /**
     * Releases a hold. A consent hold is the consent's to lift (a re-consent), never by hand: a
     * tube released while its donor's withdrawal stands could be used. Throws HOLD_NOT_FOUND,
     * INVALID_TRANSITION, HOLD_MANAGED_BY_CONSENT.
     */
    async releaseHold(ctx: Ctx, id: string, input: When & { reason: HoldReason }) {
      return act(ctx, id, 'specimens.holds', input, async (_tx, row) => {
        if (CONSENT_HOLDS.has(input.reason)) throw holdManagedByConsent(row, input.reason);
        return { kind: 'release_hold', ...base(row, input), reason: input.reason };
      });
    },

    /** Edits descriptive fields with optimistic concurrency. Throws SPECIMEN_NOT_FOUND, VERSION_CONFLICT, TIME_IN_FUTURE. */
    async updateSpecimen(
      ctx: Ctx,
      input: { id: string; expectedVersion: ExpectedVersion; patch: UpdateSpecimenInput },
    ): Promise<SpecimenView> {
      // The version is checked below, where the update writes (If-Match is required here).
      return act(ctx, input.id, 'specimens.update', {}, async (tx, before) => {
        const p = input.patch;
        const changesTimes = PREANALYTICAL_TIMES.some((f) => p[f] !== undefined);
        const future =
          futurePreanalyticalTime(p, deps.clock()) ??
          (changesTimes ? timeBeforeCollectionOf({ ...storedTimes(before), ...definedTimes(p) }) : undefined);
        if (future) throw future;
        // An external id another tube holds (checked at the version sent: a stale edit is a 412).
        const expectedVersion = resolveVersion(input.expectedVersion, before.version);
        if (p.externalIds && before.version === expectedVersion)
          await assertExternalIdsFree(tx, before, p.externalIds);
        const patch = editOf(before, p);
        const command: SpecimenCommand = { kind: 'edit', specimen: before, patch, expectedVersion };
        // The lifecycle and the version hold as when applying (409, 412); then values the tube
        // already holds write nothing: no new version, audit row or change-feed entry.
        ledger.check(command);
        if (before.version !== expectedVersion)
          throw versionConflict(`specimen ${before.barcode}`, expectedVersion, before.version);
        return Object.keys(changedOnly(before, patch)).length === 0 ? null : command;
      });
    },
  };
}
