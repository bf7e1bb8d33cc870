import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';

/**
 * Events published to every API process at once, for GraphQL subscriptions. Redis pub/sub carries
 * them, so a subscriber connected to one process sees what another process (or a worker) publishes.
 * Delivery is at most once, to whoever is connected at that moment: the change feed and webhooks are
 * the durable channels; a subscription is a live view.
 */
export interface EventBus {
  /** the emitter Mercurius subscribes through */
  emitter: MQEmitterRedis.MQEmitterRedis;
  /** the topic of one institution's events of one kind; the prefix keeps deployments apart */
  topic(kind: EventKind, institutionId: string): string;
  publish(topic: string, payload: unknown): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_KINDS = ['sharing_request'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export function createEventBus(redisUrl: string, prefix: string): EventBus {
  // Lazy: a process that never publishes or subscribes opens no connection.
  const connection = () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // Reconnects by itself; a subscription is a live view, a lost event is not lost work.
    redis.on('error', () => undefined);
    return redis;
  };
  // mqemitter-redis is typed against its own ioredis copy; ours speaks the same commands.
  type Conn = NonNullable<MQEmitterRedis.MQEmitterOptions['subConn']>;
  const emitter = MQEmitterRedis({
    subConn: connection() as unknown as Conn,
    pubConn: connection() as unknown as Conn,
  });
  (emitter as unknown as { state: NodeJS.EventEmitter }).state.on('error', () => undefined);
  return {
    emitter,
    topic: (kind, institutionId) => `${prefix}/events/${kind}/${institutionId}`,
    publish: (topic, payload) =>
      new Promise<void>((resolve) => {
        emitter.emit({ topic, payload }, () => resolve());
      }),
    close: () => new Promise<void>((resolve) => emitter.close(() => resolve())),
  };
}
