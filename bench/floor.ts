import Fastify from 'fastify';
import pg from 'pg';
import { SCAN_SQL } from '../src/modules/specimens/index.js';

// The floor for the scan-lookup benchmark: a bare Fastify route running the service's own scan
// statement (same SQL, same named prepared statement, same pool size) and answering the row as
// JSON. No authentication, validation, DTO mapping, hooks or logging: what is left is the cost
// of HTTP + PostgreSQL on this machine. Started by bench/run.ts as a child process.

const port = Number(process.env.FLOOR_PORT);
const institutionId = process.env.FLOOR_INSTITUTION_ID;
if (!port || !institutionId || !process.env.DATABASE_URL) {
  process.stderr.write('floor: FLOOR_PORT, FLOOR_INSTITUTION_ID and DATABASE_URL are required\n');
  process.exit(2);
}

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.FLOOR_POOL_SIZE ?? 20),
  application_name: 'biobank-bench-floor',
});
const app = Fastify({ logger: false });

app.get('/health/live', async () => ({ status: 'ok' }));
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

await app.listen({ port, host: '127.0.0.1' });
const stop = () => {
  void app
    .close()
    .then(() => pool.end())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
