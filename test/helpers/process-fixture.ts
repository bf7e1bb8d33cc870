import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseConfig, type Config } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import type { Role } from '../../src/auth/roles.js';
import { bearer, createTestDatabase, dropQueueKeys, dropTestDatabase, systemCtx } from './test-app.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { databaseUrl } from './urls.js';

const SECRET = 'process-fixture-secret-of-at-least-32-chars';

/**
 * A database and queue prefix of the test file's own, for tests that run the service as real
 * processes (crashes, signals): the fixture's container creates data through the services, and
 * `sql` reads rows as a superuser.
 */
export interface ProcessFixture {
  url: string;
  prefix: string;
  container: Container;
  sql: pg.Pool;
  /** the environment of a server process on this database */
  env(extra?: Record<string, string>): Record<string, string>;
  start(
    extra?: Record<string, string>,
    opts?: Parameters<typeof startServerProcess>[1],
  ): Promise<ServerProcess>;
  institutionWithKeys(roles?: Role[]): Promise<{ institutionId: string; keys: Record<Role, string> }>;
  close(): Promise<void>;
}

export async function createProcessFixture(): Promise<ProcessFixture> {
  const dbName = await createTestDatabase();
  const url = databaseUrl(dbName);
  const prefix = `bbtest-proc-${randomBytes(4).toString('hex')}`;
  const config: Config = {
    ...parseConfig({
      DATABASE_URL: url,
      QUEUE_PREFIX: prefix,
      WORKERS: '0',
      LOG_LEVEL: 'silent',
      // The tests' webhook receivers listen on plain http on this machine (as in test-app.ts).
      WEBHOOK_ALLOW_HTTP: '1',
      WEBHOOK_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    }),
    BIOBANK_SECRET: SECRET,
  };
  const container = createContainer(config, createLogger('silent'));
  const sql = new pg.Pool({ connectionString: url, max: 4 });
  sql.on('error', () => undefined);
  const servers: ServerProcess[] = [];
  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: url,
    QUEUE_PREFIX: prefix,
    WORKERS: '0',
    BIOBANK_SECRET: SECRET,
    ...extra,
  });
  return {
    url,
    prefix,
    container,
    sql,
    env,
    async start(extra, opts) {
      const server = await startServerProcess(env(extra), opts);
      servers.push(server);
      return server;
    },
    async institutionWithKeys(roles = ['admin', 'manager', 'technician']) {
      const ctx = systemCtx(container);
      const code = `P${randomBytes(3).toString('hex').toUpperCase()}`;
      const institution = await container.services.institutions.createInstitution(ctx, {
        code,
        name: `Process Biobank ${code}`,
        kind: 'biobank',
      });
      const keys = {} as Record<Role, string>;
      for (const role of roles) {
        keys[role] = (
          await container.services.apiKeys.createApiKey(ctx, {
            institutionId: institution.id,
            role,
            name: `${role} key`,
          })
        ).token;
      }
      return { institutionId: institution.id, keys };
    },
    async close() {
      await Promise.all(servers.map((s) => s.kill()));
      await sql.end();
      await container.close();
      await dropQueueKeys(config.REDIS_URL, prefix);
      await dropTestDatabase(dbName);
    },
  };
}

/** fetch against a server process with a bearer token and a JSON body. */
export function callAs(server: ServerProcess, token: string) {
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...bearer(token),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}
