import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** everything the process wrote so far */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (when still running) and wait for the exit */
  kill(): Promise<void>;
}

/** `source` runs src/main.ts through tsx (development), `compiled` runs dist/main.js (production). */
export type Runtime = 'source' | 'compiled';

/** Compiles src/ into dist/ as `npm run build` does (a test of the build builds it afresh). */
export async function buildDist(): Promise<void> {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout) =>
      err ? reject(new Error(`build failed:\n${stdout}`)) : resolve(),
    );
  });
}

/**
 * Runs `src/main.ts <command>` (or the compiled dist/main.js) as a real process (signals, exits
 * and uncaught errors are the process's own) and waits until it answers /health/live.
 */
export async function startServerProcess(
  env: Record<string, string>,
  opts: {
    command?: string;
    startTimeoutMs?: number;
    runtime?: Runtime;
    /** false for a process that serves no HTTP (`worker`): returned as soon as it is spawned */
    waitForHealth?: boolean;
  } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const full: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The tests' webhook receivers listen on plain http on this machine (as in test-app.ts).
    WEBHOOK_ALLOW_HTTP: '1',
    WEBHOOK_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    ...env,
  };
  for (const key of Object.keys(full)) if (key.startsWith('VITEST')) delete full[key];
  const entry = opts.runtime === 'compiled' ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, [...entry, opts.command ?? 'serve'], {
    cwd: ROOT,
    env: full,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (opts.waitForHealth === false) break;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`server exited early:\n${output}`);
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${output}`);
    }
    await sleep(100);
  }
  return {
    child,
    port,
    url,
    output: () => output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
