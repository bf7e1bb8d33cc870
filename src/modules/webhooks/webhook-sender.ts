import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkWebhookUrlForm, resolveWebhookHost, type WebhookUrlPolicy } from './webhook-url.js';

/** Sends one signed webhook request. An interface of ours, so tests can observe or fail it. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface WebhookResponse {
  status: number;
  bodyExcerpt: string;
}

export type WebhookSender = (req: WebhookRequest) => Promise<WebhookResponse>;

/** How much of a receiver's answer is kept: enough to tell an error page, not to read a service. */
export const RESPONSE_EXCERPT_BYTES = 200;

/**
 * Sends over node:http(s) with the URL checked again at this delivery: the socket connects to the
 * address the check resolved (a custom `lookup`), never to a second resolution. Redirects are not
 * followed (a 3xx is an answer like any other); only the first bytes of the answer are read.
 * Throws WEBHOOK_URL_REFUSED before connecting when the URL is not allowed any more.
 */
export function createHttpWebhookSender(policy: WebhookUrlPolicy): WebhookSender {
  return async (req) => {
    const url = checkWebhookUrlForm(req.url, policy);
    const checked = (await resolveWebhookHost(url.hostname, policy))!;
    const pinned: LookupFunction = (_hostname, options, callback) => {
      // Node 20 asks for every address (autoSelectFamily): answer the checked one alone.
      if (options.all) callback(null, [checked]);
      else callback(null, checked.address, checked.family);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<WebhookResponse>((resolve, reject) => {
      const outgoing = send(
        url,
        {
          method: 'POST',
          headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
          lookup: pinned,
          signal: AbortSignal.timeout(req.timeoutMs),
          agent: false,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          const finish = () =>
            resolve({
              status: res.statusCode ?? 0,
              // PostgreSQL text holds no NUL.
              bodyExcerpt: Buffer.concat(chunks)
                .toString('utf8')
                .replaceAll('\u0000', '')
                .slice(0, RESPONSE_EXCERPT_BYTES),
            });
          res.on('data', (chunk: Buffer) => {
            if (kept < RESPONSE_EXCERPT_BYTES) {
              chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
              kept += chunk.length;
            }
            // Enough read: the rest of a large answer is not waited for.
            if (kept >= RESPONSE_EXCERPT_BYTES) {
              res.destroy();
              finish();
            }
          });
          res.on('end', finish);
          res.on('error', () => finish());
        },
      );
      outgoing.on('error', reject);
      outgoing.end(req.body);
    });
  };
}
