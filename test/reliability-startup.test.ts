import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../src/config.js';
import { createContainer } from '../src/container.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/runtime.js';
import { freePort, sleep, startServerProcess } from './helpers/server-process.js';
import { createTestDatabase, dropTestDatabase } from './helpers/test-app.js';
import { databaseUrl } from './helpers/urls.js';

// The API starts and answers /health/live while PostgreSQL or Redis is down (an orchestrator
// must not kill it for a dependency's outage), and /health/ready names what is down; readiness
// also warns when Redis would lose queued work (no persistence, eviction), or cannot be asked.

const SECRET = 'startup-test-secret-of-at-least-32-chars';
let dbName: string;

beforeAll(async () => {
  dbName = await createTestDatabase();
});
afterAll(() => dropTestDatabase(dbName));

async function ready(url: string) {
  const res = await fetch(`${url}/health/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('starting while a dependency is down', () => {
  it('serves /health/live with Redis down (workers on), and readiness names redis', async () => {
    const deadPort = await freePort();
    const server = await startServerProcess({
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL: `redis://127.0.0.1:${deadPort}`,
      QUEUE_PREFIX: `bbtest-start-${dbName.slice(-8)}`,
      WORKERS: '1',
      BIOBANK_SECRET: SECRET,
    });
    try {
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
      const r = await ready(server.url);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'NOT_READY', checks: { postgres: 'up', redis: 'down' } });
    } finally {
      await server.kill();
    }
  });

  it('serves /health/live with PostgreSQL down, and readiness names postgres', async () => {
    const deadPort = await freePort();
    const server = await startServerProcess({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${deadPort}/nowhere`,
      QUEUE_PREFIX: `bbtest-start-${dbName.slice(-8)}`,
      WORKERS: '1',
      BIOBANK_SECRET: SECRET,
    });
    try {
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
      const r = await ready(server.url);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'NOT_READY', checks: { postgres: 'down', redis: 'up' } });
      // A request that needs the database is a 503 too, and the process stays up.
      const api = await fetch(`${server.url}/v1/institutions`, {
        headers: { authorization: `Bearer bbk_${'a'.repeat(10)}_${'A'.repeat(43)}` },
      });
      expect(api.status).toBe(503);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await server.kill();
    }
  });
});

/** A Redis of this test's own, with the given settings. */
async function ownRedis(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bb-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    const up = await probe.connect().then(
      () => true,
      () => false,
    );
    probe.disconnect();
    if (up) break;
    if (i > 50) throw new Error('redis-server did not start');
    await sleep(100);
  }
  return {
    url,
    async stop() {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function readinessWith(redisUrl: string) {
  const config: Config = {
    ...parseConfig({
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: 'bbtest-ready',
      WORKERS: '0',
      LOG_LEVEL: 'warn',
    }),
    BIOBANK_SECRET: SECRET,
  };
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const c = createContainer(config, createLogger('warn', sink));
  const running = await startServer(c, { listen: false });
  try {
    for (let i = 0; c.queues.redis.status !== 'ready' && i < 50; i++) await sleep(100);
    const res = await running.app!.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ status: string; warnings?: string[] }>();
  } finally {
    await running.stop();
  }
}

describe('readiness and the Redis settings queued work needs', () => {
  it('no warning with appendonly yes and maxmemory-policy noeviction', async () => {
    const redis = await ownRedis(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']);
    try {
      const body = await readinessWith(redis.url);
      expect(body).toEqual({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
    } finally {
      await redis.stop();
    }
  });

  it('warns, still ready, without persistence and with an evicting policy', async () => {
    const redis = await ownRedis(['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
    try {
      const body = await readinessWith(redis.url);
      expect(body.warnings).toHaveLength(2);
      expect(body.warnings?.[0]).toMatch(/appendonly/);
      expect(body.warnings?.[1]).toMatch(/allkeys-lru, not noeviction/);
    } finally {
      await redis.stop();
    }
  });

  it('a managed Redis that refuses CONFIG is ready, with a warning that its settings are unchecked', async () => {
    const redis = await ownRedis(['--rename-command', 'CONFIG', '']);
    try {
      const body = await readinessWith(redis.url);
      expect(body.warnings).toEqual([expect.stringMatching(/refuses CONFIG GET/)]);
    } finally {
      await redis.stop();
    }
  });
});
