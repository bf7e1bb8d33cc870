import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAMES, QUEUES, type QueueName } from './queues.js';

export interface QueueSet {
  prefix: string;
  /** the connection queues share; workers open their own blocking connections */
  redis: Redis;
  redisUrl: string;
  get(name: QueueName): Queue;
  all(): Queue[];
  close(): Promise<void>;
}

export function redisConnection(url: string): Redis {
  // BullMQ requires maxRetriesPerRequest null for blocking commands.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export function createQueueSet(redisUrl: string, prefix: string): QueueSet {
  const redis = redisConnection(redisUrl);
  // Keep the process alive through Redis restarts: ioredis reconnects by itself.
  redis.on('error', () => undefined);
  const queues = new Map<QueueName, Queue>(
    QUEUE_NAMES.map((name) => [
      name,
      new Queue(name, { connection: redis, prefix, defaultJobOptions: QUEUES[name].job }),
    ]),
  );
  // While Redis is away each reconnect attempt raises an error; the readiness probe reports it,
  // so the queues need not print a stack trace per attempt.
  for (const q of queues.values()) q.on('error', () => undefined);
  return {
    prefix,
    redis,
    redisUrl,
    get(name) {
      const q = queues.get(name);
      if (!q) throw new Error(`unknown queue ${name}`);
      return q;
    },
    all: () => [...queues.values()],
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
