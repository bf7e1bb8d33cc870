import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

/**
 * With tracing on, names each request's span (opened by the HTTP instrumentation, src/tracing.ts)
 * after its Fastify route, `POST /v1/specimens` rather than `POST`, and records the request id
 * the logs and problem answers carry, so a trace and a log line find each other.
 */
export function nameRequestSpans(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const span = trace.getActiveSpan();
    const route = request.routeOptions.url;
    if (span) {
      if (route) span.updateName(`${request.method} ${route}`).setAttribute('http.route', route);
      span.setAttribute('biobank.request_id', request.id);
    }
    done();
  });
}
