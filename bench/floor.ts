import Fastify from 'fastify';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import type { Ctx } from '../src/context.js';
import { DomainError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { SCAN_SQL } from '../src/modules/specimens/index.js';

// The floor for the scan-lookup benchmark: a bare Fastify route running the service's own scan
// statement (same SQL, same named prepared statement, same pool size) and answering the row as
// JSON. No authentication, validation, DTO mapping, hooks or logging: what is left is the cost
// of HTTP + PostgreSQL on this machine. Started by bench/run.ts as a child process.
//
// FLOOR_MODE=service (`scan-lookup --layers`): the same bare route answers with the service's own
// scanSpecimen (the scan read model, its batching, the location and permitted uses, the JSON's
// bytes) for a fixed actor, with the service's container and pool. Between this and the whole
// service lies the HTTP pipeline alone: authentication, rate limit, validation, security headers,
// metrics, logging.

const port = Number(process.env.FLOOR_PORT);
const institutionId = process.env.FLOOR_INSTITUTION_ID;
const serviceLayer = process.env.FLOOR_MODE === 'service';
if (!port || !institutionId || !process.env.DATABASE_URL || (serviceLayer && !process.env.FLOOR_TOKEN)) {
  process.stderr.write(
    'floor: FLOOR_PORT, FLOOR_INSTITUTION_ID and DATABASE_URL are required (and FLOOR_TOKEN with FLOOR_MODE=service)\n',
  );
  process.exit(2);
}

const app = Fastify({ logger: false });
let close: () => Promise<void>;
app.get('/health/live', async () => ({ status: 'ok' }));

if (serviceLayer) {
  const c = createContainer(
    loadConfig({ ...process.env, LOG_LEVEL: 'warn', WORKERS: '0' }),
    createLogger('warn'),
  );
  const ctx: Ctx = {
    actor: await c.services.apiKeys.authenticate(process.env.FLOOR_TOKEN),
    requestId: 'floor',
    log: c.log,
  };
  close = () => c.close();
  app.get<{ Params: { barcode: string } }>('/v1/specimens/by-barcode/:barcode', async (req, reply) => {
    try {
      const scan = await c.services.specimens.scanSpecimen(ctx, req.params.barcode);
      return reply
        .header('etag', `"${scan.version}"`)
        .type('application/json; charset=utf-8')
        .send(scan.json);
    } catch (err) {
      if (err instanceof DomainError) return reply.code(err.status).send({ code: err.code });
      throw err;
    }
  });
} else {
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.FLOOR_POOL_SIZE ?? 20),
    application_name: 'biobank-bench-floor',
  });
  close = () => pool.end();
  app.get<{ Params: { barcode: string } }>('/v1/specimens/by-barcode/:barcode', async (req, reply) => {
    const result = await pool.query({
      name: 'biobank_scan_lookup',
      text: SCAN_SQL,
      values: [institutionId, req.params.barcode],
    });
    const row: unknown = result.rows[0];
    if (!row) return reply.code(404).send({ code: 'SPECIMEN_NOT_FOUND' });
    return row;
  });
}

await app.listen({ port, host: '127.0.0.1' });
const stop = () => {
  void app
    .close()
    .then(() => close())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
