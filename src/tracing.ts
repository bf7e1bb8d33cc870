import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingSettings } from './config.js';

// The OpenTelemetry SDK, loaded by src/main.ts only when OTEL_EXPORTER_OTLP_ENDPOINT is set and
// before any instrumented module. Spans: one per HTTP request (named by its Fastify route in
// src/http/request-span.ts), pg and ioredis calls made inside a traced request or job, and one per
// BullMQ job (src/jobs/workers.ts), a child of the request that wrote its outbox row.

/** Probes and scrapes would be most of the traces and say nothing. */
const UNTRACED_PATHS = /^\/(health\/|metrics(\?|$))/;

export interface Tracing {
  /** sends the spans still buffered */
  flush(): Promise<void>;
}

export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  // ES modules are instrumented through a loader hook; the channel limits it to the modules the
  // instrumentations below ask for (import-in-the-middle's documented set-up).
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const exporter = new OTLPTraceExporter({ url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: settings.exportDelayMs })],
  });
  provider.register(); // W3C trace context propagation, AsyncLocalStorage context
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
      }),
      // Statements without their parameters (the default), and only inside a request or a job:
      // the relay's and the workers' polling would otherwise each be a trace.
      new PgInstrumentation({ requireParentSpan: true }),
      // The command name only: arguments carry job data and keys.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  await waitForAllMessagesAcknowledged();
  return {
    flush: () => provider.forceFlush(),
  };
}
