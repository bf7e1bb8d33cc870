import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { sleep } from './server-process.js';

// A graphql-transport-ws client over a real WebSocket, as a partner's script would open one, for
// the subscription tests: one socket, one message queue, answers awaited with a time limit.

export interface WsMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface GraphqlSocket {
  ws: WebSocket;
  /** the next message other than ping/pong, failing after `ms` */
  next(ms?: number): Promise<WsMessage>;
  /** resolves with nothing when no message arrives within `ms` */
  silence(ms: number): Promise<WsMessage | undefined>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  closed: Promise<number>;
  close(): void;
}

/**
 * Opens `ws(s)://…/graphql` and sends connection_init; `header` puts the key on the upgrade
 * request, `init` in the connection_init payload. The first message (ack or refusal) is left in
 * the queue.
 */
export async function openGraphqlSocket(
  baseUrl: string,
  opts: { header?: string; init?: Record<string, unknown> } = {},
): Promise<GraphqlSocket> {
  const queue: WsMessage[] = [];
  const waiting: ((m: WsMessage) => void)[] = [];
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', {
    headers: opts.header ? { authorization: `Bearer ${opts.header}` } : {},
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as WsMessage;
    if (m.type === 'ping' || m.type === 'pong') return;
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: opts.init ?? {} }));
  const take = (ms: number) =>
    new Promise<WsMessage | undefined>((resolve) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(done), 1);
        resolve(undefined);
      }, ms);
      const done = (msg: WsMessage) => {
        clearTimeout(timer);
        resolve(msg);
      };
      waiting.push(done);
    });
  return {
    ws,
    async next(ms = 15_000) {
      const m = await take(ms);
      if (!m) throw new Error(`no message within ${ms} ms`);
      return m;
    },
    silence: (ms) => take(ms),
    subscribe(id, query, variables = {}) {
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    closed,
    close: () => ws.terminate(),
  };
}

/**
 * Waits until an API process listens on a Redis channel (`live`), or none does: a subscription is
 * live only once its process has subscribed there (graphql-transport-ws does not acknowledge a
 * subscribe), and a process subscribes to a channel once for all its sockets.
 */
export async function untilListening(redisUrl: string, channel: string, live = true, ms = 15_000) {
  const redis = new Redis(redisUrl);
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const [, n] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
      if (Number(n) > 0 === live) return;
      if (Date.now() > deadline) throw new Error(`${channel}: ${n} listening`);
      await sleep(50);
    }
  } finally {
    redis.disconnect();
  }
}

export const SHARING_REQUEST_UPDATED = `subscription Updated($id: ID) {
  sharingRequestUpdated(id: $id) {
    request { id state side allowedActions providerInstitutionId requesterInstitutionId }
    event { id action fromState toState actorInstitutionId }
  }
}`;

export interface SharingUpdateMessage {
  sharingRequestUpdated: {
    request: { id: string; state: string; side: string; allowedActions: string[] };
    event: { id: string; action: string; fromState: string | null; toState: string };
  };
}

/** The data of a `next` message, failing on anything else. */
export function updateOf(m: WsMessage): SharingUpdateMessage['sharingRequestUpdated'] {
  if (m.type !== 'next') throw new Error(`expected next, got ${JSON.stringify(m)}`);
  const payload = m.payload as { data?: SharingUpdateMessage; errors?: unknown };
  if (!payload.data) throw new Error(`no data: ${JSON.stringify(payload)}`);
  return payload.data.sharingRequestUpdated;
}
