import type { FastifyInstance } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { authorize } from '../auth/roles.js';
import type { ApiKeyService } from '../auth/api-keys.service.js';
import { toProblem } from '../errors.js';
import type { QueueSet } from '../jobs/queue-set.js';
import { asDomainError, sendProblem } from './problem.js';
import type { BrowserSessions } from './browser-session.js';
import { authenticateRequest, bearerToken } from './request-context.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * The BullMQ board at /admin/queues. It shows every institution's jobs (ids, payloads, webhook
 * URLs), so only the operator's admins may open it (`queues.board`); it is read-only unless
 * `writes` (config QUEUE_BOARD_WRITES): pausing or emptying a queue stops work for everyone.
 */
export async function registerQueueBoard(
  app: FastifyInstance,
  deps: { apiKeys: ApiKeyService; queues: QueueSet; writes: boolean; sessions: BrowserSessions },
): Promise<void> {
  await app.register(async (board) => {
    const authenticate = authenticateRequest(deps.apiKeys);
    // The board's own error handler would answer its JSON: refusals go out as problem+json here.
    board.addHook('onRequest', async (request, reply) => {
      try {
        // A person opens the board by URL: the sign-in cookie stands for the key (writes need its
        // CSRF token).
        const fromCookie = bearerToken(request) === undefined ? await deps.sessions.actorOf(request) : null;
        if (fromCookie) {
          deps.sessions.assertCsrf(request);
          request.actor = fromCookie;
        } else await authenticate(request, reply);
        authorize(request.actor!, 'queues.board');
      } catch (err) {
        const domain = asDomainError(err);
        if (!domain) throw err;
        return sendProblem(reply, toProblem(domain, request.id));
      }
    });
    // The board's page links web fonts from a public CDN; offline (hospital networks) it waits on
    // them. Without the links it uses the system's fonts and no request leaves the origin.
    board.addHook('onSend', async (_request, reply, payload) =>
      typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')
        ? payload.replace(/<link\b[^>]*fonts\.(?:googleapis|gstatic)\.com[^>]*>/g, '')
        : payload,
    );
    const serverAdapter = new FastifyAdapter();
    createBullBoard({
      queues: deps.queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: !deps.writes })),
      serverAdapter,
    });
    serverAdapter.setBasePath(QUEUE_BOARD_PATH);
    await board.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
