import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// GraphiQL in a closed hospital network: Chromium with every request to another origin blocked
// renders the IDE from our own routes and runs a query with the key in its headers.

const CHROMIUM = '/usr/bin/chromium';

let t: TestApp;
let origin: string;
let token: string;
let adminKey: string;
let institutionCode: string;

beforeAll(async () => {
  t = await createTestApp();
  // An operator institution: its admin may open the queue board.
  const { institution, keys } = await makeInstitution(t, { operator: true });
  token = keys.technician;
  adminKey = keys.admin;
  institutionCode = institution.code;
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  // A browser's keep-alive connections would hold the server's close open until they time out.
  t.app.server.closeAllConnections();
  await t.close();
});

describe('GET /graphiql', () => {
  it('loads only same-origin files from our routes, with a policy that forbids any other', async () => {
    const page = await fetch(`${origin}/graphiql`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const sources = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBe(5);
    for (const source of sources) {
      expect(source.startsWith('/graphiql/assets/')).toBe(true);
      expect((await fetch(`${origin}${source}`)).status).toBe(200);
    }
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${origin}/graphiql/assets/secrets.js`)).status).toBe(404);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('GraphiQL in Chromium without internet', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(() => browser?.close());

  it('renders the IDE and runs a query', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
    const page = await context.newPage();
    const elsewhere: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    const query = 'query Offline { viewer { role institution { code } } }';
    await page.goto(`${origin}/graphiql?query=${encodeURIComponent(query)}`);
    await page.locator('.graphiql-execute-button').click({ timeout: 20_000 });
    const result = page.locator('.result-window');
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toContain(institutionCode);
    expect(await result.textContent()).toContain('technician');
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('signs a person in with a pasted key, then runs GraphiQL and opens the queue board by cookie', async () => {
    const context = await browser.newContext(); // no Authorization header anywhere
    const elsewhere: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    await page.goto(`${origin}/graphiql`);
    await page.getByText('Sign in with an API key').click();
    await page.locator('input[name="apiKey"]').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/graphiql`);
    expect(await page.locator('#session').textContent()).toContain('Signed in');

    await page.locator('.graphiql-execute-button').click({ timeout: 20_000 });
    const result = page.locator('.result-window');
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toContain(institutionCode);
    expect(await result.textContent()).toContain('admin');

    const board = await page.goto(`${origin}/admin/queues`);
    expect(board?.status()).toBe(200);
    await expect.poll(() => page.content(), { timeout: 20_000 }).toContain('webhooks');

    await page.goto(`${origin}/graphiql`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${origin}/sign-in`);
    expect((await page.goto(`${origin}/admin/queues`))?.status()).toBe(401);
    expect(elsewhere).toEqual([]);
    await context.close();
  });
});
