import type { Db } from '../../db/client.js';
import { sequenceChanges } from './changes.repo.js';

/**
 * This process's sequencer passes (`change_log_sequence`, migration 0011: at most `batch` changes
 * each, one pass at a time across every process).
 */
export interface Sequencer {
  /**
   * A pass that starts after this call, so it sees every change committed before; callers
   * arriving while one runs share the next. Resolves true when it left changes behind.
   */
  fresh(): Promise<boolean>;
  /** The last pass left changes behind: a backlog is being worked through. */
  readonly behind: boolean;
  /** Starts a pass now unless one is running, so the backlog moves while the caller reads. */
  ahead(): void;
}

export function createSequencer(db: Db, batch: number): Sequencer {
  let running: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  let behind = false;
  const start = (): Promise<boolean> => {
    const pass = sequenceChanges(db, batch)
      .then((moved) => (behind = moved === batch))
      .finally(() => {
        if (running === pass) running = undefined;
      });
    running = pass;
    return pass;
  };
  return {
    fresh() {
      if (!running) return start();
      queued ??= running
        .catch(() => undefined)
        .then(() => {
          queued = undefined;
          return start();
        });
      return queued;
    },
    get behind() {
      return behind;
    },
    ahead() {
      // A failure here is seen by the next fresh() pass, which runs the same statement.
      if (!running) start().catch(() => undefined);
    },
  };
}
