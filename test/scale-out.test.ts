import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCtx } from './helpers/test-app.js';
import { callAs, createProcessFixture, type ProcessFixture } from './helpers/process-fixture.js';
import { sleep } from './helpers/server-process.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Replicas side by side on one PostgreSQL and one Redis (ARCHITECTURE.md section 11): API processes
// hold no state of their own, so a retried request may land on another one, and the outbox is
// relayed by whichever process runs the relay, once.

let f: ProcessFixture;
let receiver: WebhookReceiver;
let admin: string;
let institutionId: string;

beforeAll(async () => {
  f = await createProcessFixture();
  receiver = await startWebhookReceiver();
  const made = await f.institutionWithKeys(['admin']);
  admin = made.keys.admin;
  institutionId = made.institutionId;
  await f.container.services.institutions.updateInstitution(systemCtx(f.container), {
    id: institutionId,
    expectedVersion: 1,
    patch: { webhookUrl: `${receiver.url}/scale-out` },
  });
});

afterAll(async () => {
  await f?.close();
  await receiver?.close();
});

/** Polls until `check` returns a truthy value; fails after `ms`. */
async function until<T>(check: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

const children = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
};

describe('two API processes and one worker process', () => {
  it('apply an Idempotency-Key sent to both once and relay its outbox row once', async () => {
    const [a, b] = await Promise.all([f.start({ WORKERS: '0' }), f.start({ WORKERS: '0' })]);
    const key = randomUUID();
    const ping = (server: typeof a) =>
      callAs(server, admin)('POST', '/v1/webhook-deliveries/ping', undefined, {
        'idempotency-key': key,
      });
    const answers = await Promise.all([ping(a), ping(b)]);
    expect(answers.map((r) => r.status)).toEqual([202, 202]);
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { id: string }[];
    expect(bodies[1]!.id).toBe(bodies[0]!.id);
    expect(answers.map((r) => r.headers.get('idempotent-replayed')).sort()).toEqual([null, 'true']);

    const deliveries = await f.sql.query<{ id: string }>(
      'select id from webhook_delivery where institution_id = $1',
      [institutionId],
    );
    expect(deliveries.rows).toEqual([{ id: bodies[0]!.id }]);

    // Neither API process relays (WORKERS=0): the job waits in the outbox for the worker.
    await sleep(1_500);
    const pending = await f.sql.query<{ n: number }>(
      'select count(*)::int as n from outbox where enqueued_at is null',
    );
    expect(pending.rows[0]!.n).toBe(1);
    expect(receiver.on('/scale-out')).toHaveLength(0);

    const worker = await f.start({}, { command: 'worker', waitForHealth: false });
    await until(async () => receiver.on('/scale-out').length > 0);
    await sleep(2_000); // time for a second delivery, if the job ran twice
    const received = receiver.on('/scale-out');
    expect(received).toHaveLength(1);
    expect(received[0]!.headers['webhook-id']).toBe(bodies[0]!.id);
    const relayed = await f.sql.query<{ n: number; enqueued: number }>(
      'select count(*)::int as n, count(enqueued_at)::int as enqueued from outbox',
    );
    expect(relayed.rows[0]).toEqual({ n: 1, enqueued: 1 });
    expect(worker.child.exitCode).toBeNull();

    for (const server of [a, b, worker]) server.child.kill('SIGTERM');
    for (const server of [a, b, worker]) expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

describe('serve with WEB_CONCURRENCY=2', () => {
  it('runs two API processes on one port, replaces one that dies, and stops both on SIGTERM', async () => {
    const server = await f.start({ WEB_CONCURRENCY: '2' }, { startTimeoutMs: 60_000 });
    const primary = server.child.pid!;
    const first = await until(async () => {
      const pids = children(primary);
      return pids.length === 2 && pids;
    });
    // Both listen on the one port: wait until each has logged it.
    await until(async () => server.output().split('Server listening').length - 1 >= 2, 90_000);
    for (let i = 0; i < 6; i++) {
      const res = await callAs(server, admin)('GET', `/v1/institutions/${institutionId}`);
      expect(res.status).toBe(200);
    }

    process.kill(first[0]!, 'SIGKILL');
    const replaced = await until(async () => {
      const pids = children(primary);
      return pids.length === 2 && !pids.includes(first[0]!) && pids;
    });
    expect(replaced).toContain(first[1]);
    await until(async () => server.output().split('Server listening').length - 1 >= 3, 90_000);
    expect((await callAs(server, admin)('GET', `/v1/institutions/${institutionId}`)).status).toBe(200);
    expect(server.output()).toContain('API process died; starting another');

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(children(primary)).toEqual([]);
    for (const pid of replaced) expect(() => process.kill(pid, 0)).toThrow();
  }, 240_000);
});
