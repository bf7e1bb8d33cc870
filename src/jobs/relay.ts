import pg from 'pg';
import { asc, inArray, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { jobDataOf } from './outbox.js';
import { outbox } from './outbox.table.js';
import type { QueueSet } from './queue-set.js';
import type { QueueName } from './queues.js';

const BATCH = 500;

/**
 * Moves committed outbox rows into BullMQ. Rows are claimed with FOR UPDATE SKIP LOCKED so
 * several relays never move the same row at once; the BullMQ job id is the outbox id, so a relay
 * that crashed after adding but before marking is deduplicated by BullMQ on the next pass.
 */
export class OutboxRelay {
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: { db: Db; queues: QueueSet; log: Logger; databaseUrl: string; pollMs: number },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
    if (this.timer) clearInterval(this.timer); // started twice: one polling timer only
    this.timer = setInterval(() => this.wake(), this.deps.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** LISTEN on a dedicated connection; on loss or failure, polling carries on and we listen again. */
  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.deps.databaseUrl,
      application_name: 'biobank-relay',
    });
    client.on('notification', () => this.wake());
    client.on('error', (err) => {
      if (this.listener !== client) return; // already replaced, or ended by stop()
      this.deps.log.warn({ err }, 'outbox listener lost; relying on polling until it reconnects');
      this.listener = undefined;
      client.end().catch(() => undefined);
      this.listenLater();
    });
    try {
      await client.connect();
      await client.query('LISTEN biobank_outbox');
    } catch (err) {
      this.deps.log.warn({ err }, 'outbox listener could not connect; polling until it can');
      await client.end().catch(() => undefined);
      this.listenLater();
      return;
    }
    if (this.stopped || this.listener) {
      // Stopped meanwhile, or a restart already listens: one listener per relay.
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private listenLater(): void {
    if (this.stopped) return;
    setTimeout(() => {
      // stop() may have run meanwhile: a listener opened now would never be closed. Rows
      // committed while no one listened are seen by the pass that follows.
      if (!this.stopped) void this.listen().then(() => this.wake());
    }, this.deps.pollMs).unref();
  }

  /** Runs a pass now, or once more after the current one. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.deps.log.error({ err }, 'outbox relay pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (await this.runOnce()) === BATCH);
  }

  /** One pass: claims up to BATCH committed rows, adds them to their queues, marks them. */
  async runOnce(): Promise<number> {
    return this.deps.db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(outbox)
        .where(isNull(outbox.enqueuedAt))
        .orderBy(asc(outbox.createdAt))
        .limit(BATCH)
        .for('update', { skipLocked: true });
      if (rows.length === 0) return 0;
      const byQueue = new Map<QueueName, typeof rows>();
      for (const row of rows) {
        const list = byQueue.get(row.queue as QueueName) ?? [];
        list.push(row);
        byQueue.set(row.queue as QueueName, list);
      }
      const now = Date.now();
      for (const [queue, list] of byQueue) {
        await this.deps.queues.get(queue).addBulk(
          list.map((row) => ({
            name: row.jobName,
            data: jobDataOf(row),
            opts: { jobId: row.id, delay: row.runAt ? Math.max(0, row.runAt.getTime() - now) : undefined },
          })),
        );
      }
      await tx
        .update(outbox)
        .set({ enqueuedAt: sql`now()`, relayAttempts: sql`${outbox.relayAttempts} + 1` })
        .where(
          inArray(
            outbox.id,
            rows.map((r) => r.id),
          ),
        );
      return rows.length;
    });
  }

  /** Age in seconds of the oldest row not yet moved (the outbox lag metric). */
  async lagSeconds(): Promise<number> {
    const result = await this.deps.db.execute<{ lag: number | null }>(
      sql`select extract(epoch from now() - min(created_at))::float8 as lag from outbox where enqueued_at is null`,
    );
    return result.rows[0]?.lag ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }
}
