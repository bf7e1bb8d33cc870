import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { createCursorCodec } from './changes.cursor.js';
import { changesAfter, type ChangeRecord } from './changes.repo.js';
import { createSequencer } from './changes.sequencer.js';

/** Positions one sequencer pass gives at most: bounds how long a pass holds its lock (~100 ms). */
const SEQUENCER_BATCH = 10_000;
/** How often a long poll looks again: a change reaches a waiting consumer within this. */
const WAIT_POLL_MS = 200;

export interface ListChangesInput {
  /** `nextCursor` of a previous answer; absent: from the first change the feed recorded */
  after?: string;
  limit: number;
  /** seconds to wait for a first change when there is none yet (long poll) */
  wait: number;
  /** ends a wait early (the caller went away, the server is closing): answers what there is */
  signal?: AbortSignal;
}

export interface ChangePage {
  items: ChangeRecord[];
  /** where to continue: after the last item, or the given cursor when there was none */
  nextCursor: string;
  /** more changes are ready now: ask again without waiting */
  hasMore: boolean;
  /** the cursor right after one item of this page (a consumer may stop anywhere) */
  cursorAfter(item: ChangeRecord): string;
}

const pause = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export function createChangeFeedService(deps: { db: Db; secret: string }) {
  const { db } = deps;
  const cursors = createCursorCodec(deps.secret);
  const sequencer = createSequencer(db, SEQUENCER_BATCH);

  return {
    /**
     * The institution's changes to specimens, participants, consents and containers after a
     * cursor, in the order they committed; with `wait`, holds the answer until a change arrives or
     * the time is up. Throws FORBIDDEN, INVALID_CURSOR (malformed, edited, or another
     * institution's).
     */
    async listChanges(ctx: Ctx, input: ListChangesInput): Promise<ChangePage> {
      authorize(ctx.actor, 'changes.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const after = input.after === undefined ? 0 : cursors.decode(institutionId, input.after);
      // Wall time, not the injected clock: this bounds a connection's wait, it decides nothing.
      const deadline = performance.now() + input.wait * 1000;
      for (;;) {
        // Changes that already have their place come first: a consumer catching up gets a full
        // page without waiting for a pass, and while a backlog is being worked through the next
        // pass runs as this page is read and sent.
        if (sequencer.behind) sequencer.ahead();
        const ready = await changesAfter(db, institutionId, after, input.limit + 1);
        if (ready.length > input.limit || (ready.length > 0 && sequencer.behind)) {
          return toChangePage(ready, input.limit, true);
        }
        // Near the head: a pass that starts now places every change committed before this call.
        const backlog = await sequencer.fresh();
        const rows = await changesAfter(db, institutionId, after, input.limit + 1);
        const waitLeft = deadline - performance.now();
        if (rows.length > 0 || waitLeft <= 0 || input.signal?.aborted) {
          return toChangePage(rows, input.limit, backlog);
        }
        // A backlog still being sequenced may hold this institution's next change: no pause.
        if (!backlog) await pause(Math.min(WAIT_POLL_MS, waitLeft), input.signal);
      }

      function toChangePage(rows: ChangeRecord[], limit: number, backlog: boolean): ChangePage {
        const items = rows.length > limit ? rows.slice(0, limit) : rows;
        const cursorAfter = (item: ChangeRecord) => cursors.encode(institutionId, item.position);
        const last = items.at(-1);
        return {
          items,
          nextCursor: last ? cursorAfter(last) : cursors.encode(institutionId, after),
          hasMore: rows.length > limit || backlog,
          cursorAfter,
        };
      }
    },
  };
}

export type ChangeFeedService = ReturnType<typeof createChangeFeedService>;
