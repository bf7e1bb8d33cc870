import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessFixture, callAs, type ProcessFixture } from './helpers/process-fixture.js';
import { buildDist, freePort, sleep, type Runtime } from './helpers/server-process.js';

// Production runs the compiled build (`npm run build`, then `node dist/main.js start`), never tsx:
// the build must find its migrations and schema.graphql, answer like the source, and stop on
// SIGTERM as the process that receives it (issue 14 point 6: no npm or sh swallowing the signal).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let f: ProcessFixture;
let keys: { institutionId: string; admin: string };

beforeAll(async () => {
  await buildDist();
  f = await createProcessFixture();
  const made = await f.institutionWithKeys(['admin']);
  keys = { institutionId: made.institutionId, admin: made.keys.admin };
}, 300_000);

afterAll(() => f?.close());

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe.each<Runtime>(['source', 'compiled'])('the %s server', (runtime) => {
  it('migrates, answers health, REST and GraphQL, and exits 0 on SIGTERM', async () => {
    const server = await f.start({}, { command: 'start', runtime });
    const call = callAs(server, keys.admin);

    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);

    const rest = await call('GET', `/v1/institutions/${keys.institutionId}`);
    expect(rest.status).toBe(200);
    expect(await rest.json()).toMatchObject({ id: keys.institutionId, kind: 'biobank' });

    const gql = await call('POST', '/graphql', {
      query: 'query Viewer { viewer { role institution { id } } }',
    });
    expect(gql.status).toBe(200);
    expect(await gql.json()).toEqual({
      data: { viewer: { role: 'admin', institution: { id: keys.institutionId } } },
    });

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('"signal":"SIGTERM"');
    expect(await tryConnect(server.port)).toBe('ECONNREFUSED');
  });
});

describe('npm start', () => {
  it('hands SIGTERM to the server, which stops instead of living on as an orphan', async () => {
    const port = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...f.env(),
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    for (const key of Object.keys(env))
      if (key.startsWith('VITEST') || key.startsWith('npm_')) delete env[key];
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    npm.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while ((await tryConnect(port)) !== 'connected') {
      if (npm.exitCode !== null || Date.now() > deadline)
        throw new Error(`npm start did not serve:\n${output}`);
      await sleep(100);
    }

    npm.kill('SIGTERM');
    await exited;
    // The server itself shut down gracefully: its port closes and it logged the signal.
    const closedBy = Date.now() + 10_000;
    while ((await tryConnect(port)) === 'connected' && Date.now() < closedBy) await sleep(100);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(output).toContain('"signal":"SIGTERM"');
  });
});
