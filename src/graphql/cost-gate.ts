import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { queryTooCostly, serverBusy } from '../errors.js';
import { queryCost } from './cost.js';

// How much GraphQL work one process runs at once (issue 13, finding 2: four expensive queries at
// once added 280 MB). The cost limit bounds one query; this bounds their sum: a query starts when
// the costs in flight leave room for it, waits its turn otherwise (first come, first served), and
// gives up with 503 SERVER_BUSY after `waitMs`. Small queries (the scanner's, a viewer) never wait.

/** Queries this cheap run at once whatever is in flight. */
export const FREE_COST = 100;

export interface CostGate {
  /** Waits for room for `cost`; answers the release (idempotent). Throws SERVER_BUSY. */
  acquire(cost: number): Promise<() => void>;
  /** cost now running, and queries waiting (for tests and metrics) */
  state(): { inFlight: number; waiting: number };
}

export function createCostGate(capacity: number, waitMs: number): CostGate {
  let inFlight = 0;
  const queue: { cost: number; start: () => void }[] = [];
  const releaser = (cost: number) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      inFlight -= cost;
      pump();
    };
  };
  function pump() {
    while (queue.length && inFlight + queue[0]!.cost <= capacity) {
      const next = queue.shift()!;
      inFlight += next.cost;
      next.start();
    }
  }
  return {
    async acquire(cost) {
      if (cost <= FREE_COST) return () => undefined;
      // A query worth more than the whole capacity runs alone rather than never.
      const share = Math.min(cost, capacity);
      if (!queue.length && inFlight + share <= capacity) {
        inFlight += share;
        return releaser(share);
      }
      await new Promise<void>((resolve, reject) => {
        const entry = {
          cost: share,
          start: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          queue.splice(queue.indexOf(entry), 1);
          reject(serverBusy(1));
        }, waitMs);
        queue.push(entry);
      });
      return releaser(share);
    },
    state: () => ({ inFlight, waiting: queue.length }),
  };
}

const RELEASE = Symbol('graphql cost release');
type Held = FastifyRequest & { [RELEASE]?: () => void };

/**
 * The cost limit and the gate as Mercurius' preExecution hook, and the Fastify hooks of the
 * GraphQL plugin that give the room back once the answer is sent or the client went away.
 */
export function registerCostLimits(
  app: FastifyInstance,
  limits: { maxCost: number; costInFlight: number; waitMs: number },
) {
  const gate = createCostGate(limits.costInFlight, limits.waitMs);
  const release = (request: FastifyRequest) => {
    (request as Held)[RELEASE]?.();
  };
  app.addHook('onResponse', async (request) => release(request));
  app.addHook('onRequestAbort', async (request) => release(request));
  app.graphql.addHook(
    'preExecution',
    async (schema: GraphQLSchema, document: DocumentNode, context, variables) => {
      const cost = queryCost(schema, document, (variables ?? {}) as Record<string, unknown>);
      if (cost > limits.maxCost) throw queryTooCostly(cost, limits.maxCost);
      // Only a request over HTTP, whose answer is still to be sent, holds room: its onResponse
      // gives it back (a query over a WebSocket has no reply of its own to wait for).
      const reply = (context as { reply?: { sent?: unknown; request?: FastifyRequest } }).reply;
      if (!reply || reply.sent !== false || !reply.request) return;
      const request = reply.request as Held;
      request[RELEASE]?.();
      request[RELEASE] = await gate.acquire(cost);
    },
  );
  return gate;
}
