import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';

// The only reader of process.env (STYLE.md rule 27). Every variable has a default that works on
// a developer machine, except BIOBANK_SECRET, which is generated once and kept in the data folder.

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');
const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL');
const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// URL');

export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('HTTP port'),
  HOST: z.string().min(1).default('127.0.0.1').describe('HTTP bind address'),
  DATABASE_URL: postgresUrl
    .default('postgres://postgres@127.0.0.1:5432/biobank')
    .describe('PostgreSQL connection URL; `migrate` creates the database when missing'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20).describe('pg pool size'),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379').describe('Redis URL for BullMQ'),
  QUEUE_PREFIX: z
    .string()
    // Braces around the whole prefix make it a Redis Cluster hash tag: one queue's keys, one slot.
    .regex(
      /^(?:[a-zA-Z0-9_-]{1,40}|\{[a-zA-Z0-9_-]{1,38}\})$/,
      'letters, digits, _ or -, optionally in braces',
    )
    .default('biobank')
    .describe(
      'BullMQ key prefix, so several deployments can share one Redis; `{biobank}` (braces) for Redis Cluster',
    ),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
  WORKERS: flag
    .default(true)
    .describe('run the outbox relay and job workers with `serve`, in a child process of its own'),
  WEB_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe('API processes `serve` runs on one port (node:cluster); about one per core'),
  BIOBANK_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('key for keyed hashes of donor identifiers (MRN); generated into DATA_DIR when unset'),
  DATA_DIR: z.string().min(1).default('.data').describe('folder for the generated secret'),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(5 * 1024 * 1024)
    .describe('largest accepted request body'),
  GRAPHQL_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024)
    .describe('largest accepted /graphql body (and WebSocket message): documents are text, not uploads'),
  GRAPHQL_MAX_TOKENS: z.coerce
    .number()
    .int()
    .min(200)
    .max(100_000)
    .default(2_000)
    .describe(
      'most tokens a GraphQL document may have; parsing stops beyond (the introspection query has ~190)',
    ),
  GRAPHQL_DOCUMENT_CACHE: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(64)
    .describe('parsed documents kept (and as many refused ones); 0 turns the cache off'),
  GRAPHQL_INTROSPECTION: z
    .enum(['admins', 'everyone', 'off'])
    .default('admins')
    .describe('who may ask for the schema (`__schema`, `__type`)'),
  GRAPHQL_MAX_COST: z.coerce
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .default(20_000)
    .describe(
      'most objects a GraphQL query may ask for: each list counts its `first` (or its default page) times what it selects',
    ),
  GRAPHQL_COST_IN_FLIGHT: z.coerce
    .number()
    .int()
    .min(100)
    .max(10_000_000)
    .default(20_000)
    .describe(
      'most GraphQL cost one process runs at once; a query waits for room beyond it (queries costing 100 or less never wait)',
    ),
  GRAPHQL_COST_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(10_000)
    .describe('how long a GraphQL query waits for room before 503 SERVER_BUSY'),
  QUEUE_BOARD_WRITES: flag
    .default(false)
    .describe(
      'let the operator admins pause, retry, add and empty jobs on /admin/queues (read-only otherwise)',
    ),
  WEBHOOK_ALLOW_HTTP: flag
    .default(false)
    .describe('accept http:// webhook URLs (development); https only otherwise'),
  WEBHOOK_ALLOW_PRIVATE_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .describe(
      'comma-separated hosts or IP addresses webhooks may reach although private or loopback (a local receiver in development and tests)',
    ),
  RATE_LIMIT_PER_KEY: z.coerce
    .number()
    .int()
    .min(0)
    .default(6_000)
    .describe('requests one API key may make per window, across processes (0: no limit)'),
  RATE_LIMIT_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(60_000)
    .describe("the rate limits' window"),
  RATE_LIMIT_FAILED_AUTH: z.coerce
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('failed authentications one client address may make per window before 429'),
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((v): boolean | string[] => {
      const t = v.trim();
      if (t === '' || t === 'false' || t === '0') return false;
      if (t === 'true') return true;
      return t
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
    })
    .describe(
      'proxies whose X-Forwarded-For gives the client address (rate limits per address): `true` or comma-separated addresses/CIDRs; none by default',
    ),
  METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('bearer token /metrics requires; without it /metrics answers 404'),
  AUTH_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5_000)
    .describe(
      'how long a verified API key is trusted without a database read (revocation is pushed at once)',
    ),
  OUTBOX_POLL_MS: z.coerce
    .number()
    .int()
    .min(50)
    .default(1_000)
    .describe('outbox polling fallback when no NOTIFY arrives'),
  OUTBOX_RECONCILE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(60_000)
    .describe('how often relayed work Redis no longer has is put back (and recurring jobs re-scheduled)'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(25_000)
    .describe('grace period for in-flight requests and jobs on SIGTERM'),
  IDEMPOTENCY_WAIT_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(5_000)
    .describe(
      'how long a retry waits for the first attempt under the same Idempotency-Key before 409 IDEMPOTENCY_KEY_IN_USE',
    ),
  BROWSER_SESSION_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(720)
    .default(30)
    .describe('lifetime of the sign-in cookie of /graphiql and /admin/queues (a pasted API key)'),
  CATALOGUE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(300_000)
    .describe(
      'the oldest inventory a catalogue answer may come from; the snapshot is read again after that (0: on every question)',
    ),
  WEBHOOK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(10_000)
    .describe('per-attempt webhook timeout'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .url()
    .refine((v) => /^https?:\/\//.test(v), 'must be an http(s):// URL')
    .optional()
    .describe(
      'OpenTelemetry collector (OTLP/HTTP, JSON); spans go to <url>/v1/traces. Tracing is off, and its SDK not loaded, when unset',
    ),
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .max(100)
    .default('biobank')
    .describe('service.name of the spans (e.g. biobank-api, biobank-worker)'),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(5_000)
    .describe('most milliseconds a finished span waits before it is sent to the collector'),
});

export type Config = Omit<z.output<typeof configSchema>, 'BIOBANK_SECRET'> & { BIOBANK_SECRET: string };
export type RawConfig = z.output<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment. Throws ConfigError with one line naming the variable and the problem. */
export function parseConfig(env: Record<string, string | undefined> = process.env): RawConfig {
  const relevant = Object.fromEntries(
    Object.keys(configSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const result = configSchema.safeParse(relevant);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`invalid environment variable ${variable}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/**
 * The keyed-hash secret: BIOBANK_SECRET, or one generated on first start into a 0600 file under
 * DATA_DIR and reused, never a built-in default (a default would make MRN hashes guessable).
 */
export function resolveSecret(raw: RawConfig): Config {
  if (raw.BIOBANK_SECRET) return { ...raw, BIOBANK_SECRET: raw.BIOBANK_SECRET };
  const file = resolve(raw.DATA_DIR, 'biobank-secret');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Written aside, then linked into place: of two processes starting at once, one link wins and
    // both read the same complete secret (never a half-written or a second one).
    const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(draft, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    try {
      linkSync(draft, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(draft);
    }
  }
  chmodSync(file, 0o600);
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new ConfigError(`secret file ${file} holds fewer than 32 characters`);
  return { ...raw, BIOBANK_SECRET: secret };
}

/** What the tracing SDK needs, read before anything else loads (src/main.ts). */
export interface TracingSettings {
  endpoint: string;
  serviceName: string;
  exportDelayMs: number;
}

/**
 * The tracing settings when OTEL_EXPORTER_OTLP_ENDPOINT is set, else null. Invalid settings are
 * null here too: the command's own `loadConfig` then refuses them with its one-line message.
 */
export function tracingSettings(
  env: Record<string, string | undefined> = process.env,
): TracingSettings | null {
  const schema = configSchema.pick({
    OTEL_EXPORTER_OTLP_ENDPOINT: true,
    OTEL_SERVICE_NAME: true,
    OTEL_BSP_SCHEDULE_DELAY: true,
  });
  const relevant = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const result = schema.safeParse(relevant);
  if (!result.success || !result.data.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  return {
    endpoint: result.data.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: result.data.OTEL_SERVICE_NAME,
    exportDelayMs: result.data.OTEL_BSP_SCHEDULE_DELAY,
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return resolveSecret(parseConfig(env));
}
