// Every change of a sharing request goes through here: the lifecycle table decides, the row moves
// (version + 1), the timeline gets its event, the notification job is queued through the outbox
// and the audit row is written, all in the caller's transaction.
import { actorLabel } from '../../auth/roles.js';
import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { forbidden } from '../../errors.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { recordAudit } from '../audit/index.js';
import { invalidRequestTransition } from './sharing.errors.js';
import { notifySharingTransitionJob } from './sharing.jobs.js';
import { requestTransition, type RequestAction, type RequestState, type Side } from './sharing.lifecycle.js';
import { insertEvent, updateRequestRow } from './sharing.requests.repo.js';
import type { SharingEventRow, SharingRequestRow, sharingRequests } from './sharing.table.js';

/**
 * Where the actor stands in the request; null: neither party (answered 404). A system actor
 * acting for one of the institutions (a command, the seed) stands where that institution does;
 * jobs, acting for none, are the system.
 */
export function sideOf(ctx: Ctx, r: SharingRequestRow): Side | null {
  if (ctx.actor.institutionId === r.requesterInstitutionId) return 'requester';
  // Submitted once: a draft, also one cancelled before it was sent, is the requester's own.
  if (ctx.actor.institutionId === r.providerInstitutionId && r.submittedAt !== null) return 'provider';
  return ctx.actor.kind === 'system' ? 'system' : null;
}

export interface EventInput {
  /**
   * The timeline's action: a lifecycle action, or what was recorded without a transition
   * (`remind_review`, `notified`, `release_items`). `propose` is both: a reviewer's top-up, and the
   * job's first proposal after submission. Not an audit action: those are operation names.
   */
  step: string;
  from: RequestState | null;
  to: RequestState;
  reason?: string | null;
  /** ids, counts and sample codes only: both parties read the timeline */
  details?: Record<string, unknown>;
  /** queue the notification of the institutions concerned */
  notify: boolean;
}

/** Appends a timeline event (and queues its notification) in the caller's transaction. */
export async function appendEvent(
  tx: Tx,
  ctx: Ctx,
  requestId: string,
  e: EventInput,
  now: Date,
): Promise<SharingEventRow> {
  const event = await insertEvent(tx, {
    requestId,
    actor: actorLabel(ctx.actor),
    actorInstitutionId: ctx.actor.institutionId,
    callRequestId: ctx.requestId,
    occurredAt: now,
    action: e.step,
    fromState: e.from,
    toState: e.to,
    reason: e.reason ?? null,
    details: e.details ?? {},
  });
  if (e.notify) await enqueueJob(tx, ctx, notifySharingTransitionJob, { eventId: event.id });
  return event;
}

/**
 * Refuses an action the lifecycle does not allow: FORBIDDEN when the side may not take it,
 * INVALID_REQUEST_TRANSITION when the state does not allow it. Returns the state it leads to.
 */
export function assertAllowed(
  request: SharingRequestRow,
  action: RequestAction,
  side: Side,
  operation: string,
): RequestState {
  const verdict = requestTransition(request.state, action, side);
  if (verdict.ok) return verdict.to;
  if (verdict.blockedBy === 'side') throw forbidden(`the ${side}`, operation);
  throw invalidRequestTransition(request.id, request.state, action, verdict.reason);
}

/**
 * Takes `action` on a request locked in this transaction. Throws INVALID_REQUEST_TRANSITION when
 * the state does not allow it, FORBIDDEN when the side may not take it.
 */
export async function applyTransition(
  tx: Tx,
  ctx: Ctx,
  before: SharingRequestRow,
  action: RequestAction,
  side: Side,
  opts: {
    /** the operation, for the audit row */
    operation: string;
    now: Date;
    reason?: string | null;
    details?: Record<string, unknown>;
    patch?: Partial<typeof sharingRequests.$inferInsert>;
    /** false: nothing the other party needs to hear of (a draft edited) */
    notify?: boolean;
  },
): Promise<SharingRequestRow> {
  const to = assertAllowed(before, action, side, opts.operation);
  const after = await updateRequestRow(tx, before, { ...opts.patch, state: to });
  await appendEvent(
    tx,
    ctx,
    before.id,
    {
      step: action,
      from: before.state,
      to,
      reason: opts.reason,
      details: opts.details,
      notify: opts.notify ?? true,
    },
    opts.now,
  );
  await recordAudit(tx, ctx, {
    action: opts.operation,
    entityType: 'sharing_request',
    entityId: before.id,
    institutionId: ctx.actor.institutionId ?? before.providerInstitutionId,
    before,
    after,
  });
  return after;
}
