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

export const httpWebhookSender: WebhookSender = async (req) => {
  const res = await fetch(req.url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    signal: AbortSignal.timeout(req.timeoutMs),
    redirect: 'manual',
  });
  const text = await res.text().catch(() => '');
  return { status: res.status, bodyExcerpt: text.slice(0, 500) };
};
