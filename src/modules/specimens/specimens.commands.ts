// The typed commands the specimen ledger accepts (ARCHITECTURE.md, "The specimen ledger"). Each
// names what happened to a tube in the lab's words; the ledger checks it against the lifecycle
// table, derives the row patch and custody events, and writes them with the audit row.
import type { Placement } from '../storage/index.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import type { NewSpecimenRow } from './specimens.repo.js';
import type { HoldReason, SpecimenRow } from './specimens.table.js';

interface CommandBase {
  /** the specimen as locked by the caller in this transaction (`ledger.lock`) */
  specimen: SpecimenRow;
  /** when it happened (the client's time); absent or null: now */
  occurredAt?: Date | null;
  note?: string;
  /** the audit action (operationId) when it is not the command's own, e.g. `rackScan` */
  action?: string;
}

/** A placement command's target position (planned by storage's `planPlacements`). */
type Placed = { placement: Placement };

export type SpecimenCommand =
  /** receipt at the bench, optionally straight into a position */
  | (CommandBase & { kind: 'receive'; placement: Placement | null })
  /** into a position; a tube that already has one is recorded as moved */
  | (CommandBase & Placed & { kind: 'store'; details?: Record<string, unknown> })
  | (CommandBase & Placed & { kind: 'move'; details?: Record<string, unknown> })
  /** back from use; thawing counts a freeze-thaw cycle */
  | (CommandBase & { kind: 'check_in'; placement: Placement | null; thawed: boolean })
  | (CommandBase & { kind: 'check_out'; use?: string })
  | (CommandBase & { kind: 'consume'; quantity: number })
  | (CommandBase & { kind: 'destroy'; reason?: string; details?: Record<string, unknown> })
  | (CommandBase & { kind: 'mark_missing'; reason?: string })
  | (CommandBase & { kind: 'mark_found'; placement: Placement | null })
  | (CommandBase & { kind: 'place_hold'; reason: HoldReason; details?: Record<string, unknown> })
  | (CommandBase & { kind: 'release_hold'; reason: HoldReason; details?: Record<string, unknown> })
  /** a donor withdrew consent: every tube of the donor carries the hold, whatever its status */
  | (CommandBase & { kind: 'withdraw_consent'; consentId: string; scope: string })
  /** re-consent after a liftable withdrawal lifts the consent hold */
  | (CommandBase & { kind: 'lift_consent_hold'; consentId: string })
  /** the tube's box (or rack, freezer) moved: same position, new path; after the container rows changed */
  | (CommandBase & { kind: 'container_moved'; containerBarcode: string; fromPath: string })
  /** quantity drawn from a parent into new aliquots or derivatives (created by `ledger.register`) */
  | (CommandBase & {
      kind: 'draw';
      lineage: 'aliquot' | 'derivative';
      quantity: number;
      children: { id: string; barcode: string }[];
      use?: string;
    })
  /** descriptive fields edited under optimistic concurrency (no custody event: nothing physical happened) */
  | (CommandBase & { kind: 'edit'; patch: SpecimenEdit; expectedVersion: number })
  /** sharing: set aside for an approved request, released, shipped, received by the partner */
  | (CommandBase & { kind: 'reserve'; details: Record<string, unknown> })
  | (CommandBase & { kind: 'release_reservation'; details: Record<string, unknown> })
  | (CommandBase & { kind: 'ship'; details: Record<string, unknown> })
  | (CommandBase & { kind: 'deliver'; details: Record<string, unknown> });

export type SpecimenCommandKind = SpecimenCommand['kind'];

/** A command as the lifecycle check needs it: the target position is planned after the check. */
export type SpecimenCommandCheck = SpecimenCommand extends infer C
  ? C extends SpecimenCommand
    ? Omit<C, 'placement'>
    : never
  : never;

/** Descriptive fields an edit may change. */
export type SpecimenEdit = Partial<
  Pick<
    NewSpecimenRow,
    | 'anatomicSite'
    | 'pathologyStatus'
    | 'collectedAt'
    | 'receivedAt'
    | 'processedAt'
    | 'frozenAt'
    | 'sprecCode'
    | 'sprecVersion'
    | 'quality'
    | 'externalIds'
  >
>;

/** A specimen to bring into existence: a primary tube, or an aliquot or derivative of a parent. */
export interface NewSpecimen {
  /** every column but the ones the ledger decides (status, chain head, version) */
  row: Omit<NewSpecimenRow, 'status' | 'custodySeq' | 'custodyHead' | 'version'> & {
    id: string;
    type: SpecimenType;
  };
  placement: Placement | null;
  occurredAt: Date | null;
  /** what the first custody event says */
  origin:
    | { kind: 'registered' }
    | { kind: 'created_from_parent'; parent: SpecimenRow; lineage: 'aliquot' | 'derivative' }
    /**
     * Received from another institution (sharing): the first event names the provider and the hash
     * of its `shipped` event, linking the two chains; the status is the lifecycle's
     * `receive_from_institution` outcome.
     */
    | { kind: 'received_from_institution'; link: InstitutionLink };
}

/** What a received specimen's first custody event says of where it came from. */
export interface InstitutionLink {
  providerInstitutionId: string;
  /** the hash of the provider's `shipped` event of the tube */
  shippedEventHash: string;
  /** the sharing request and the item's code in it: what both sides call the tube */
  requestId: string;
  sampleCode: string;
  /** the provider's label, when the receiver relabelled the tube because it collided */
  relabelledFrom?: string;
}

/**
 * A store of a stocked tube, or a move, to the position it already holds: a scan sent again. It
 * writes nothing, as a resent call must not record a move that did not happen.
 */
export function keepsItsPlace(c: SpecimenCommand): boolean {
  if (c.kind !== 'store' && c.kind !== 'move') return false;
  if (c.kind === 'store' && c.specimen.status !== 'available') return false;
  const { specimen: row, placement: p } = c;
  return row.containerId === p.container.id && row.positionRow === p.row && row.positionCol === p.col;
}
