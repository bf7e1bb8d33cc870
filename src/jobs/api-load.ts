import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { cpus } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

// How busy `serve` is answering requests, as its background child (src/background-process.ts)
// sees it: every tenth of a second the API process reports, on the IPC channel the fork opened,
// its event loop's utilization and how busy the host's cores were (all of them: a container's CPU
// quota is not read). Background work that yields to requests (src/jobs/pacer.ts) reads it; a child
// with no reports, or none for a second, sees an idle API. With several API processes
// (WEB_CONCURRENCY), the first one, which runs the background child, reports its own loop.

export const API_LOAD_MESSAGE = 'biobank:api-load';
const REPORT_EVERY_MS = 100;
const STALE_AFTER_MS = 1_000;

interface ApiLoadMessage {
  type: typeof API_LOAD_MESSAGE;
  /** share of the last interval the API's event loop spent running, 0 to 1 */
  utilization: number;
  /** share of the last interval the host's cores spent running anything, 0 to 1 */
  machineBusy: number;
}

/** Busy and total core time so far, in milliseconds, over all cores. */
function coreTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    busy += all - times.idle;
    total += all;
  }
  return { busy, total };
}

/** In `serve`: reports to the child until it exits or its channel closes. */
export function reportApiLoad(child: ChildProcess): void {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  let lastCores = coreTimes();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    const cores = coreTimes();
    const elapsed = cores.total - lastCores.total;
    const machineBusy = elapsed > 0 ? (cores.busy - lastCores.busy) / elapsed : 0;
    lastCores = cores;
    if (!child.connected) return;
    const message: ApiLoadMessage = { type: API_LOAD_MESSAGE, utilization, machineBusy };
    // A child busy exiting may have closed the channel between the check and the send.
    child.send(message, (err) => void err);
  }, REPORT_EVERY_MS);
  timer.unref();
  // A child that could not start emits 'disconnect' but no 'exit'; its 'error' is its owner's.
  const stop = () => clearInterval(timer);
  child.once('exit', stop);
  child.once('disconnect', stop);
}

export interface ApiLoad {
  /** True while, in the last report, the API had work and the host's cores were past the threshold. */
  busy(): boolean;
}

export interface BusyThresholds {
  /** the API's event loop share above which it has requests to answer */
  utilization: number;
  /** the host's core share above which background work takes cores from the API */
  machineBusy: number;
}

const finiteNumber = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The latest report that `source` (the background child's `process`) received from its parent.
 * Listening does not keep the process alive: the caller that owns the process unrefs its channel.
 */
export function apiLoadFromParent(
  thresholds: BusyThresholds,
  source: Pick<EventEmitter, 'on'> = process,
  now: () => number = () => performance.now(),
): ApiLoad {
  let busy = false;
  let at = -Infinity;
  source.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as ApiLoadMessage).type !== API_LOAD_MESSAGE) return;
    const utilization = finiteNumber((m as ApiLoadMessage).utilization);
    const machineBusy = finiteNumber((m as ApiLoadMessage).machineBusy);
    if (utilization === null || machineBusy === null) return;
    busy = utilization > thresholds.utilization && machineBusy > thresholds.machineBusy;
    at = now();
  });
  return { busy: () => busy && now() - at < STALE_AFTER_MS };
}
