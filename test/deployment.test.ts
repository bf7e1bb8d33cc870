import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../src/config.js';
import { API_NODE_FLAGS } from '../src/node-flags.js';

// No Docker engine runs in CI: the image and the compose file are checked as text here, and the
// image's command itself (`node dist/main.js start`) runs in test/compiled-server.test.ts.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  healthcheck?: { disable?: boolean };
  volumes?: string[];
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const dockerfile = read('Dockerfile');
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

/** The instructions of each stage of the Dockerfile, continuation lines joined. */
function stages(): { name: string; lines: string[] }[] {
  const lines = dockerfile
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));
  const out: { name: string; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ name: from[2] ?? from[1]!, lines: [line] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

describe('Dockerfile', () => {
  const all = stages();
  const runtime = all.at(-1)!;
  const instruction = (name: string) => runtime.lines.filter((l) => l.startsWith(`${name} `));

  it('builds in one stage and runs a Node 20 slim image with production dependencies only', () => {
    expect(all.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(all.every((s) => s.lines[0]!.includes('node:20-slim'))).toBe(true);
    expect(all[0]!.lines.some((l) => l.includes('npm run build'))).toBe(true);
    expect(runtime.lines.some((l) => /npm ci --omit=dev/.test(l))).toBe(true);
    expect(runtime.lines.some((l) => l.includes('COPY --from=build /app/dist ./dist'))).toBe(true);
    for (const needed of ['migrations', 'schema.graphql'])
      expect(runtime.lines.some((l) => l.startsWith('COPY ') && l.includes(needed))).toBe(true);
  });

  it('runs as a non-root user under an init, stops on SIGTERM and probes liveness with node', () => {
    expect(instruction('USER')).toEqual(['USER node']);
    expect(instruction('STOPSIGNAL')).toEqual(['STOPSIGNAL SIGTERM']);
    expect(JSON.parse(instruction('ENTRYPOINT')[0]!.slice('ENTRYPOINT '.length))).toEqual([
      '/usr/bin/tini',
      '--',
    ]);
    expect(JSON.parse(instruction('CMD')[0]!.slice('CMD '.length))).toEqual([
      'node',
      ...API_NODE_FLAGS,
      'dist/main.js',
      'start',
    ]);
    const health = instruction('HEALTHCHECK')[0]!;
    expect(health).toContain('CMD ["node", "-e"');
    expect(health).toContain('/health/live');
    expect(health).not.toMatch(/curl|wget/);
  });

  it('leaves out what the image does not need', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.data', '.git']) expect(ignored).toContain(entry);
  });
});

describe('production needs no development tool', () => {
  it('starts the compiled server with node, not tsx', () => {
    expect(pkg.scripts.start).toBe(`exec node ${API_NODE_FLAGS.join(' ')} dist/main.js start`);
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
  });

  it('imports in src/ only Node built-ins and production dependencies', () => {
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    );
    const missing = new Set<string>();
    for (const file of files) {
      const text = read(join('src', file));
      const statements = /^(?:import\s+'([^'.][^']*)'|(?:import|export)\b[^;'"]*?\bfrom\s+'([^'.][^']*)')/gm;
      for (const m of text.matchAll(statements)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!(name in pkg.dependencies)) missing.add(`${file}: ${name}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const app = ['migrate', 'api', 'worker'];

  it('runs PostgreSQL, Redis with persistence and no eviction, a migration step, API and worker', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    const redis = services.redis!.command!.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
    // `docker compose up -d` alone still starts only the databases for development.
    expect(services.postgres!.profiles).toBeUndefined();
    expect(services.redis!.profiles).toBeUndefined();
    for (const name of app) expect(services[name]!.profiles).toEqual(['app']);
  });

  it('migrates once before any API or worker replica starts', () => {
    expect(services.migrate!.command).toEqual(['node', 'dist/main.js', 'migrate']);
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(services[name]!.depends_on).toEqual({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('runs API replicas without workers and a worker without HTTP, all from the one image', () => {
    const api = services.api!;
    expect(api.command).toEqual(['node', ...API_NODE_FLAGS, 'dist/main.js', 'serve']);
    expect(api.environment!.WORKERS).toBe('0');
    expect(api.deploy!.replicas).toBeGreaterThanOrEqual(2);
    const worker = services.worker!;
    expect(worker.command).toEqual(['node', 'dist/main.js', 'worker']);
    expect(worker.healthcheck).toEqual({ disable: true });
    for (const name of app) {
      expect(services[name]!.build).toBe('.');
      expect(services[name]!.image).toBe('biobank:latest');
      // One keyed-hash secret for all: given, or generated once into the shared volume.
      expect(services[name]!.volumes).toEqual(['biobankdata:/var/lib/biobank']);
    }
  });

  it('sets only variables the service reads', () => {
    const known = Object.keys(configSchema.shape);
    for (const name of app) {
      const unknown = Object.keys(services[name]!.environment ?? {}).filter((v) => !known.includes(v));
      expect(unknown, name).toEqual([]);
    }
  });
});
