// The per-specimen check's custody verification, incremental: each chain is verified from the
// head its previous check verified (custody_checkpoint), so a check after a change reads and
// rehashes the new events only, whatever the history's length. A chain without a checkpoint (never
// checked, or broken when last checked) is verified from its first event.

import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { custodyEventsAfter, verifyChain } from '../custody/index.js';
import type { CustodyCheckpoint, LoadedFacts } from './qc-facts.read-model.js';
import { custodyCheckpoints } from './standards.table.js';

export interface CheckpointAdvance extends CustodyCheckpoint {
  specimenId: string;
}

/**
 * Fills each specimen's custody summary and hash verification from its checkpoint and the events
 * after it (one query for the whole set), and returns the checkpoints to advance: those of chains
 * that verify intact and grew since.
 */
export async function verifyFromCheckpoints(db: Db, loaded: LoadedFacts[]): Promise<CheckpointAdvance[]> {
  const after = await custodyEventsAfter(
    db,
    loaded.map((l) => ({ specimenId: l.facts.id, seq: l.checkpoint?.seq ?? 0 })),
  );
  const advances: CheckpointAdvance[] = [];
  for (const { facts, checkpoint: cp } of loaded) {
    const events = after.get(facts.id) ?? [];
    const first = events[0];
    const last = events.at(-1);
    let linked = true;
    let prev = cp?.hash ?? null;
    let lastTo = cp?.lastToContainerId ?? null;
    for (const e of events) {
      if (e.prevHash !== prev) linked = false;
      prev = e.hash;
      if (e.toContainerId !== null) lastTo = e.toContainerId;
    }
    const verdict = verifyChain(events, cp ? { seq: cp.seq, hash: cp.hash } : null);
    const firstType = cp?.firstType ?? first?.type ?? null;
    const count = (cp?.seq ?? 0) + events.length;
    const maxSeq = last?.seq ?? cp?.seq ?? null;
    facts.custody = {
      events: count,
      minSeq: cp ? 1 : (first?.seq ?? null),
      maxSeq,
      linked,
      head: last?.hash ?? cp?.hash ?? null,
      firstType,
      lastToContainerId: lastTo,
      verified: {
        valid: verdict.firstBreak === null,
        reason: verdict.firstBreak
          ? `${verdict.firstBreak.reason.replaceAll('_', ' ')} at event ${verdict.firstBreak.seq}`
          : null,
      },
    };
    // verifyChain checked numbering from 1 (or the checkpoint), links and every hash: the chain up
    // to `last` is intact and may be trusted by the next check.
    if (last && firstType !== null && verdict.firstBreak === null)
      advances.push({
        specimenId: facts.id,
        seq: last.seq,
        hash: last.hash,
        firstType,
        lastToContainerId: lastTo,
      });
  }
  return advances;
}

/** Stores advanced checkpoints in the check's transaction; a checkpoint never moves back. */
export async function saveCheckpoints(tx: Tx, advances: CheckpointAdvance[], now: Date): Promise<void> {
  if (advances.length === 0) return;
  const payload = JSON.stringify(
    advances.map((a) => ({
      specimen_id: a.specimenId,
      seq: a.seq,
      hash: a.hash,
      first_type: a.firstType,
      last_to_container_id: a.lastToContainerId,
      verified_at: now.toISOString(),
    })),
  );
  await tx.execute(sql`
    insert into ${custodyCheckpoints} (specimen_id, seq, hash, first_type, last_to_container_id, verified_at)
    select specimen_id, seq, hash, first_type, last_to_container_id, verified_at
      from jsonb_populate_recordset(null::custody_checkpoint, ${payload}::jsonb)
    on conflict (specimen_id) do update
       set seq = excluded.seq, hash = excluded.hash, first_type = excluded.first_type,
           last_to_container_id = excluded.last_to_container_id, verified_at = excluded.verified_at
     where custody_checkpoint.seq < excluded.seq`);
}
