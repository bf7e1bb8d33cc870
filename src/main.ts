import { tracingSettings } from './config.js';

// The entry point (`node dist/main.js <command>`, `tsx src/main.ts <command>`). Tracing must start
// before the modules it instruments (http, pg, ioredis) are loaded, so the CLI and everything it
// imports load only after it. Without OTEL_EXPORTER_OTLP_ENDPOINT the SDK is never loaded.
const settings = tracingSettings();
const tracing = settings ? await (await import('./tracing.js')).startTracing(settings) : null;
const { runCli } = await import('./cli.js');

runCli(process.argv.slice(2), {
  async flushTelemetry() {
    await tracing?.flush();
  },
});
