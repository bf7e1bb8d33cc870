// A background child for test/job-pacing.test.ts: sends back six consecutive load reports, each
// with the time it arrived, then exits. Reports queued while it was still loading arrive together,
// so it keeps the first six that arrive after it has listened for a while.
import { API_LOAD_MESSAGE } from '../../src/jobs/api-load.js';

const listening = Date.now();
const received: unknown[] = [];
process.on('message', (m: unknown) => {
  if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== API_LOAD_MESSAGE) return;
  if (Date.now() - listening < 300) return;
  received.push({ ...m, receivedAt: Date.now() });
  if (received.length === 6) process.send?.(received, () => process.exit(0));
});
setTimeout(() => process.exit(2), 10_000);
