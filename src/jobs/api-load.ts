import type { ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

// How busy `serve` is answering requests, as its background child (src/background-process.ts)
// sees it: every tenth of a second the API process reports, on the IPC channel the fork opened,
// its event loop's utilization and how busy the machine's cores were. Background work that yields
// to requests (src/jobs/pacer.ts) reads it; a child with no reports, or none for a second, sees an
// idle API.

const MESSAGE = 'biobank:api-load';
const EVERY_MS = 100;
const STALE_MS = 1_000;

interface ApiLoadMessage {
  type: typeof MESSAGE;
  /** share of the last interval the API's event loop spent running, 0 to 1 */
  utilization: number;
  /** share of the last interval the machine's cores spent running anything, 0 to 1 */
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

/** In `serve`: reports to the child until it exits. */
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
    const message: ApiLoadMessage = { type: MESSAGE, utilization, machineBusy };
    // A child busy exiting may have closed the channel between the check and the send.
    child.send(message, (err) => void err);
  }, EVERY_MS);
  timer.unref();
  child.once('exit', () => clearInterval(timer));
}

export interface ApiLoad {
  /** True while, in the last report, the API had work and the machine had no core to spare. */
  busy(): boolean;
}

export interface BusyThresholds {
  /** the API's event loop share above which it has requests to answer */
  utilization: number;
  /** the machines' core share above which background work takes cores from the API */
  machineBusy: number;
}

const fraction = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** In the background child: the parent's latest report. */
export function apiLoadFromParent(
  thresholds: BusyThresholds,
  now: () => number = () => performance.now(),
): ApiLoad {
  let busy = false;
  let at = -Infinity;
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as ApiLoadMessage).type !== MESSAGE) return;
    const utilization = fraction((m as ApiLoadMessage).utilization);
    const machineBusy = fraction((m as ApiLoadMessage).machineBusy);
    if (utilization === null || machineBusy === null) return;
    busy = utilization > thresholds.utilization && machineBusy > thresholds.machineBusy;
    at = now();
  });
  // Listening for reports does not keep the process alive: it stops when its work does.
  process.channel?.unref();
  return { busy: () => busy && now() - at < STALE_MS };
}
