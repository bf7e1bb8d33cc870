import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCtx } from './helpers/test-app.js';
import { callAs, createProcessFixture, type ProcessFixture } from './helpers/process-fixture.js';
import { buildDist, sleep, type ServerProcess } from './helpers/server-process.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Tracing for operators (README "Run in production"): with OTEL_EXPORTER_OTLP_ENDPOINT set, the
// compiled server sends OTLP/HTTP JSON spans; a request, its SQL, and the job its outbox row
// queued are one trace, and the request's log lines name it.

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };

/** Decodes OTLP/HTTP JSON export requests (opentelemetry-proto's JSON mapping) into flat spans. */
function decodeSpans(bodies: string[]): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const body of bodies) {
    const request = JSON.parse(body) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: AnyValue }[] };
        scopeSpans: {
          spans: (Omit<ReceivedSpan, 'attributes' | 'service'> & {
            attributes?: { key: string; value: AnyValue }[];
          })[];
        }[];
      }[];
    };
    for (const rs of request.resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
      for (const ss of rs.scopeSpans)
        for (const span of ss.spans)
          spans.push({
            ...span,
            parentSpanId: span.parentSpanId ?? '',
            service,
            attributes: Object.fromEntries(
              (span.attributes ?? []).map((a) => [
                a.key,
                a.value.stringValue ?? a.value.intValue ?? a.value.boolValue,
              ]),
            ),
          });
    }
  }
  return spans;
}

async function until<T>(check: () => T | null | undefined | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

/** The JSON log lines a process wrote. */
const logLines = (server: ServerProcess) =>
  server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

let f: ProcessFixture;
let webhooks: WebhookReceiver;
let collector: WebhookReceiver;
let admin: string;

beforeAll(async () => {
  f = await createProcessFixture();
  webhooks = await startWebhookReceiver();
  collector = await startWebhookReceiver();
  const made = await f.institutionWithKeys(['admin']);
  admin = made.keys.admin;
  await f.container.services.institutions.updateInstitution(systemCtx(f.container), {
    id: made.institutionId,
    expectedVersion: 1,
    patch: { webhookUrl: `${webhooks.url}/traced` },
  });
  await buildDist();
}, 120_000);

afterAll(async () => {
  await f?.close();
  await webhooks?.close();
  await collector?.close();
});

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  it('makes a request, its SQL and the job its outbox row queued one trace, named in the request log', async () => {
    const server = await f.start(
      {
        WORKERS: '1',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: 'biobank-traced',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      { runtime: 'compiled', startTimeoutMs: 60_000 },
    );
    const res = await callAs(server, admin)('POST', '/v1/webhook-deliveries/ping');
    expect(res.status).toBe(202);
    const requestId = res.headers.get('x-request-id')!;
    await until(() => webhooks.on('/traced').length > 0);

    const spans = () => decodeSpans(collector.on('/v1/traces').map((r) => r.body));
    const request = await until(() =>
      spans().find((s) => s.kind === 2 && s.attributes['biobank.request_id'] === requestId),
    );
    expect(request.name).toBe('POST /v1/webhook-deliveries/ping');
    expect(request.service).toBe('biobank-traced');
    expect(request.attributes['http.route']).toBe('/v1/webhook-deliveries/ping');
    const job = await until(() =>
      spans().find((s) => s.name.startsWith('job ') && s.traceId === request.traceId),
    );
    expect(job.kind).toBe(5); // CONSUMER
    expect(job.attributes['messaging.system']).toBe('bullmq');
    const inTrace = spans().filter((s) => s.traceId === request.traceId);
    const sql = inTrace.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    // The request's own statements, and the job's, hang under their spans.
    const underRequest = (s: ReceivedSpan): boolean => {
      const parent = inTrace.find((p) => p.spanId === s.parentSpanId);
      return parent ? parent.spanId === request.spanId || underRequest(parent) : false;
    };
    expect(sql.some(underRequest)).toBe(true);
    expect(sql.some((s) => s.parentSpanId === job.spanId)).toBe(true);
    // The job continues the request's trace: its parent is a span of the request.
    expect(underRequest(job)).toBe(true);
    // Nothing of the statements' parameters reaches the collector.
    const keys = sql.flatMap((s) => Object.keys(s.attributes));
    expect(keys).toContain('db.query.text');
    expect(keys.filter((k) => k.startsWith('db.query.parameter'))).toEqual([]);
    // Redis calls made for the request (its rate limit) are in the trace too.
    expect(inTrace.some((s) => s.attributes['db.system.name'] === 'redis' && underRequest(s))).toBe(true);

    const { rows } = await f.sql.query<{ trace_context: Record<string, string> | null }>(
      'select trace_context from outbox',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.trace_context?.traceparent).toContain(request.traceId);

    const completed = logLines(server).find((l) => l.reqId === requestId && l.msg === 'request completed');
    expect(completed?.trace_id).toBe(request.traceId);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('tracing without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('stores no trace context and writes no trace ids', async () => {
    await f.sql.query('delete from outbox');
    const before = collector.received.length;
    const server = await f.start({ WORKERS: '1' }, { runtime: 'compiled', startTimeoutMs: 60_000 });
    const res = await callAs(server, admin)('POST', '/v1/webhook-deliveries/ping');
    expect(res.status).toBe(202);
    const requestId = res.headers.get('x-request-id')!;
    await until(() => webhooks.on('/traced').length > 1);
    const { rows } = await f.sql.query<{ trace_context: unknown }>('select trace_context from outbox');
    expect(rows).toEqual([{ trace_context: null }]);
    const completed = logLines(server).find((l) => l.reqId === requestId && l.msg === 'request completed');
    expect(completed).toBeDefined();
    expect(completed).not.toHaveProperty('trace_id');
    expect(collector.received.length).toBe(before);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
