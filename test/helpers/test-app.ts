import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config.js';
import { createContainer, type Container, type ContainerOverrides } from '../../src/container.js';
import type { Ctx } from '../../src/context.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type Running } from '../../src/runtime.js';
import type { Role } from '../../src/auth/roles.js';
import { inject } from 'vitest';
import { adminUrl, databaseUrl, testDatabaseName } from './urls.js';

export interface TestApp {
  c: Container;
  app: FastifyInstance;
  running: Running;
  config: Config;
  /** every log line the app wrote, parsed */
  logs: Record<string, unknown>[];
  /** a superuser connection to this file's database, for assertions on real rows */
  sql: pg.Pool;
  close(): Promise<void>;
}

/** A database of this test file's own, cloned from the migrated template. */
export async function createTestDatabase(): Promise<string> {
  const name = testDatabaseName('f', randomBytes(6).toString('hex'));
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${inject('templateDb')}`);
  } finally {
    await admin.end();
  }
  return name;
}

export async function dropTestDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

export async function createTestApp(
  opts: { workers?: boolean; env?: Record<string, string>; overrides?: ContainerOverrides } = {},
): Promise<TestApp> {
  const dbName = await createTestDatabase();
  const config: Config = {
    ...parseConfig({
      ...process.env,
      DATABASE_URL: databaseUrl(dbName),
      QUEUE_PREFIX: `bbtest-${dbName.slice(-12)}`,
      WORKERS: opts.workers ? '1' : '0',
      LOG_LEVEL: 'info',
      OUTBOX_POLL_MS: '200',
      DATABASE_POOL_SIZE: '30',
      // The local webhook receiver (helpers/webhook-receiver.ts) listens on http://127.0.0.1.
      WEBHOOK_ALLOW_HTTP: '1',
      WEBHOOK_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
      ...opts.env,
    }),
    BIOBANK_SECRET: 'test-secret-of-at-least-thirty-two-characters',
  };
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const log = createLogger(config.LOG_LEVEL, sink);
  const c = createContainer(config, log, opts.overrides);
  const running = await startServer(c, { listen: false });
  const sql = new pg.Pool({ connectionString: config.DATABASE_URL, max: 5 });
  // Dropping the database at close may cut a pooled connection; that is expected, not a failure.
  sql.on('error', () => undefined);
  if (!running.app) throw new Error('no app');
  return {
    c,
    app: running.app,
    running,
    config,
    logs,
    sql,
    async close() {
      await running.stop();
      await sql.end();
      await dropQueueKeys(config.REDIS_URL, config.QUEUE_PREFIX);
      await dropTestDatabase(dbName);
    },
  };
}

export function systemCtx(c: Container, institutionId: string | null = null): Ctx {
  return {
    actor: { kind: 'system', name: 'test', institutionId },
    requestId: `test-${randomBytes(4).toString('hex')}`,
    log: c.log,
  };
}

let seq = 0;
/** A fresh institution with one key per requested role, created through the real services. */
export async function makeInstitution(
  t: TestApp,
  opts: {
    code?: string;
    kind?: 'biobank' | 'research_hospital' | 'hospital' | 'research_institute' | 'partner';
    operator?: boolean;
    roles?: Role[];
  } = {},
) {
  const ctx = systemCtx(t.c);
  const code = opts.code ?? `I${process.pid % 1000}X${++seq}${randomBytes(2).toString('hex').toUpperCase()}`;
  const institution = await t.c.services.institutions.createInstitution(ctx, {
    code,
    name: `Institution ${code}`,
    kind: opts.kind ?? 'biobank',
    operator: opts.operator ?? false,
  });
  const keys = {} as Record<Role, string>;
  for (const role of opts.roles ?? ['admin', 'manager', 'technician', 'partner', 'integration']) {
    const { token } = await t.c.services.apiKeys.createApiKey(ctx, {
      institutionId: institution.id,
      role,
      name: `${role} key`,
    });
    keys[role] = token;
  }
  return { institution, keys };
}

/** Polls `fn` every 50 ms until it returns something truthy (its answer), failing after `ms`. */
export async function until<T>(fn: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return res.json<T>();
}

/** Removes this file's BullMQ keys (its own prefix) from the shared Redis. */
export async function dropQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
