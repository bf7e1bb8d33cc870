import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createContainer, type Container } from './container.js';
import type { Ctx } from './context.js';
import { migrateDatabase } from './db/migrate.js';
import { isDomainError } from './errors.js';
import { createLogger } from './logger.js';
import { ROLES, type Role } from './auth/roles.js';
import { INSTITUTION_KINDS } from './modules/institutions/index.js';
import { startServer, startWorkerOnly, type Running } from './runtime.js';
import { isBackgroundChild, stopWithParent } from './background-process.js';
import { isClusterChild, leaveInterruptToPrimary, runCluster } from './cluster.js';
import { seedDemo } from './seed/demo.js';
import { STANDARDIZE_USAGE, standardizeCommand } from './modules/standards/index.js';
import { IMPORT_USAGE, importCommand } from './modules/imports/index.js';
import { seedSynthetic } from './seed/synthetic.js';
import { createInstitutionInput, institutionCode } from './modules/institutions/index.js';

const USAGE = `usage: npm run biobank -- <command>

  migrate                                  create the database when missing, apply migrations
  serve                                    serve the API (and workers unless WORKERS=0), in
                                           WEB_CONCURRENCY processes
  worker                                   run the outbox relay and job workers only
  seed --demo                              seed demo institutions and one API key per role
  seed --synthetic N [--institution C]     generate N specimens with freezers, boxes and lineage
  institutions create --code C --name N --kind K [--operator]
  keys create --institution C --role R [--name N] [--expires-at ISO]
${STANDARDIZE_USAGE}
${IMPORT_USAGE}
  demo                                     migrate, seed --demo, serve, print keys and URLs
  start                                    migrate, then serve`;

function systemCtx(c: Container, name: string): Ctx {
  return { actor: { kind: 'system', name, institutionId: null }, requestId: `cli-${Date.now()}`, log: c.log };
}

/** What the entry point started before this module loaded (src/main.ts). */
export interface CliRuntime {
  /** sends the spans still buffered; called once the work is stopped, before the process exits */
  flushTelemetry(): Promise<void>;
}

/** Runs until SIGTERM/SIGINT; a second signal exits at once. */
function runUntilSignalled(running: Running, config: Config, log: Container['log'], rt: CliRuntime) {
  // A child of `serve` (an API process of the cluster, or its background process) leaves Ctrl-C
  // to its parent, which sends it one SIGTERM.
  const child = isClusterChild() || isBackgroundChild();
  if (child) leaveInterruptToPrimary();
  const skip: 'SIGINT'[] = child ? ['SIGINT'] : [];
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: log, skip }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await running.stop();
    await rt.flushTelemetry();
  });
}

async function main(argv: string[], rt: CliRuntime): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, undefined, {
    traceIds: config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined,
  });

  switch (command) {
    case 'migrate': {
      await migrateDatabase(config.DATABASE_URL);
      log.info('database migrated');
      return 0;
    }
    case 'serve':
    case 'start':
    case 'demo': {
      if (command !== 'serve') await migrateDatabase(config.DATABASE_URL);
      if (config.WEB_CONCURRENCY > 1 && !isClusterChild()) return serveInProcesses(command, config, log);
      const c = createContainer(config, log);
      let keys: Awaited<ReturnType<typeof seedDemo>>['keys'] = [];
      if (command === 'demo') keys = (await seedDemo(c, systemCtx(c, 'seed-demo'))).keys;
      const running = await startServer(c, { listen: true, background: 'child' });
      runUntilSignalled(running, config, log, rt);
      if (command === 'demo') printDemo(config, keys);
      return -1;
    }
    case 'worker': {
      // Watched from the start: SIGTERM ends a process still starting, and stops a running one.
      if (isBackgroundChild()) stopWithParent(config.SHUTDOWN_TIMEOUT_MS);
      const c = createContainer(config, log);
      const running = await startWorkerOnly(c, {
        relay: !isBackgroundChild(),
        yieldToParent: isBackgroundChild(),
      });
      runUntilSignalled(running, config, log, rt);
      return -1;
    }
    case 'seed': {
      const { values } = parseArgs({
        args: rest,
        options: {
          demo: { type: 'boolean' },
          synthetic: { type: 'string' },
          institution: { type: 'string' },
        },
      });
      if (values.synthetic !== undefined) {
        const count = Number(values.synthetic);
        if (!Number.isSafeInteger(count) || count < 1)
          throw new UsageError('--synthetic needs a positive whole number');
        const code = values.institution ?? 'SYN';
        if (!institutionCode.safeParse(code).success)
          throw new UsageError(`--institution ${code} is not a valid institution code`);
        await migrateDatabase(config.DATABASE_URL);
        const c = createContainer(config, log);
        try {
          const r = await seedSynthetic(c, { count, institutionCode: code, log });
          for (const k of r.keys)
            console.log(`${k.role.padEnd(12)} ${r.institutionCode.padEnd(5)} ${k.token}`);
        } finally {
          await c.close();
        }
        return 0;
      }
      if (!values.demo) throw new UsageError('seed needs --demo or --synthetic N');
      await migrateDatabase(config.DATABASE_URL);
      const c = createContainer(config, log);
      try {
        const { keys } = await seedDemo(c, systemCtx(c, 'seed-demo'));
        for (const k of keys) console.log(`${k.role.padEnd(12)} ${k.institution.padEnd(5)} ${k.token}`);
      } finally {
        await c.close();
      }
      return 0;
    }
    case 'standardize': {
      const c = createContainer(config, log);
      try {
        return await standardizeCommand(c, rest);
      } finally {
        await c.close();
      }
    }
    case 'import': {
      const c = createContainer(config, log);
      try {
        return await importCommand(c, rest);
      } finally {
        await c.close();
      }
    }
    case 'institutions': {
      const [sub, ...args] = rest;
      if (sub !== 'create') throw new UsageError('institutions: only `create` is supported');
      const { values } = parseArgs({
        args,
        options: {
          code: { type: 'string' },
          name: { type: 'string' },
          kind: { type: 'string' },
          operator: { type: 'boolean' },
        },
      });
      if (!values.code || !values.name || !values.kind)
        throw new UsageError('institutions create needs --code, --name and --kind');
      if (!(INSTITUTION_KINDS as readonly string[]).includes(values.kind)) {
        throw new UsageError(`--kind must be one of ${INSTITUTION_KINDS.join(', ')}`);
      }
      const c = createContainer(config, log);
      try {
        const input = createInstitutionInput.parse({
          code: values.code,
          name: values.name,
          kind: values.kind,
        });
        const row = await c.services.institutions.createInstitution(systemCtx(c, 'cli'), {
          ...input,
          operator: values.operator === true,
        });
        console.log(`institution ${row.code} created (${row.id})`);
      } finally {
        await c.close();
      }
      return 0;
    }
    case 'keys': {
      const [sub, ...args] = rest;
      if (sub !== 'create') throw new UsageError('keys: only `create` is supported');
      const { values } = parseArgs({
        args,
        options: {
          institution: { type: 'string' },
          role: { type: 'string' },
          name: { type: 'string' },
          'expires-at': { type: 'string' },
        },
      });
      if (!values.institution || !values.role)
        throw new UsageError('keys create needs --institution and --role');
      if (!(ROLES as readonly string[]).includes(values.role))
        throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const c = createContainer(config, log);
      try {
        const ctx = systemCtx(c, 'cli');
        const institutionId = await c.services.apiKeys.institutionIdByCode(values.institution);
        const { apiKey, token } = await c.services.apiKeys.createApiKey(ctx, {
          institutionId,
          role: values.role as Role,
          name: values.name ?? `${values.role} key`,
          ...(values['expires-at'] ? { expiresAt: values['expires-at'] } : {}),
        });
        console.error(
          `API key ${apiKey.prefix} (${apiKey.role}) created for ${values.institution}; the token follows:`,
        );
        console.log(token);
      } finally {
        await c.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

/** The primary of WEB_CONCURRENCY API processes: seeds (demo), forks, waits for them to stop. */
async function serveInProcesses(command: string, config: Config, log: Container['log']): Promise<number> {
  let keys: Awaited<ReturnType<typeof seedDemo>>['keys'] = [];
  if (command === 'demo') {
    const c = createContainer(config, log);
    try {
      keys = (await seedDemo(c, systemCtx(c, 'seed-demo'))).keys;
    } finally {
      await c.close();
    }
  }
  const stopped = runCluster({
    processes: config.WEB_CONCURRENCY,
    backgroundInFirst: config.WORKERS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    log,
  });
  if (command === 'demo') printDemo(config, keys);
  const code = await stopped;
  log.info({ code }, 'API processes stopped');
  return code;
}

function printDemo(config: Config, keys: { role: Role; institution: string; token: string }[]) {
  const base = `http://${config.HOST}:${config.PORT}`;
  const lines = [
    '',
    `biobank demo is serving on ${base}`,
    `  REST docs   ${base}/docs        OpenAPI ${base}/openapi.json`,
    `  GraphQL     ${base}/graphql     GraphiQL ${base}/graphiql`,
    `  health      ${base}/health/ready    queues ${base}/admin/queues (operator admin key)`,
    `  metrics     ${base}/metrics ${config.METRICS_TOKEN ? '(Bearer METRICS_TOKEN)' : '(set METRICS_TOKEN to enable)'}`,
    '',
    'demo API keys (Authorization: Bearer <key>):',
    ...keys.map((k) => `  ${k.role.padEnd(12)} ${k.institution.padEnd(4)} ${k.token}`),
    '',
    `try: curl -H 'Authorization: Bearer ${keys[0]?.token ?? ''}' ${base}/v1/institutions`,
    // The partner hospital holds an agreement with the biobank: its catalogue answers at once.
    `partner: curl -H 'Authorization: Bearer ${keys.find((k) => k.role === 'partner')?.token ?? ''}' '${base}/v1/catalogue?use=external_sharing&groupBy=specimenType'`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

class UsageError extends Error {}

/** Runs one command; exits the process when it is done (a server runs until signalled). */
export function runCli(argv: string[], rt: CliRuntime): void {
  main(argv, rt).then(
    async (code) => {
      if (code < 0) return;
      await rt.flushTelemetry();
      process.exit(code);
    },
    (err: unknown) => exitOnError(err),
  );
}

function exitOnError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`biobank: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`biobank: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (isDomainError(err)) {
    process.stderr.write(`biobank: ${err.message} (${err.code})\n`);
    process.exit(1);
  }
  if (err instanceof Error && err.name === 'ZodError') {
    process.stderr.write(`biobank: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`biobank: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
