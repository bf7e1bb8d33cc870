import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARING_REQUEST_UPDATED, untilListening } from './helpers/graphql-ws.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Subscriptions in the offline GraphiQL: the IDE opens a WebSocket to our own /graphql, carrying
// the browser's session cookie, and shows the events; a cookie-borne WebSocket from another
// origin is refused (cross-site WebSocket hijacking).

const CHROMIUM = '/usr/bin/chromium';

let t: TestApp;
let origin: string;
let provider: Provider;
let requester: Requester;
let agreementId: string;

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  agreementId = (await makeAgreement(provider, requester.institution.id)).id;
});
afterAll(async () => {
  t.app.server.closeAllConnections();
  await t.close();
});

/** A requester's draft submitted: the provider's subscribers hear `submit`. */
async function submitRequest(purpose: string): Promise<string> {
  const res = await requester.call('POST', '/v1/sharing-requests', {
    providerInstitutionId: provider.lab.institution.id,
    agreementId,
    use: 'external_sharing',
    ethicsApprovalRef: 'EC-IDE-1',
    specimenCount: 1,
    quantityPerSpecimen: 0.5,
    unit: 'mL',
    purpose,
  });
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json<{ id: string }>().id;
  const submitted = await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
  expect(submitted.statusCode, submitted.body).toBe(200);
  return id;
}

/** The session cookie of a signed-in key, as the sign-in form sets it. */
async function signIn(key: string): Promise<string> {
  const res = await fetch(`${origin}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams({ apiKey: key, next: '/graphiql' }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** The HTTP status an upgrade is refused with, or 101 when the socket opens. */
function upgradeStatus(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe('a WebSocket signed in by the session cookie', () => {
  it('opens from our own origin and is refused with 403 from another', async () => {
    const cookie = await signIn(provider.lab.keys.manager);
    expect(await upgradeStatus({ cookie, origin })).toBe(101);
    expect(await upgradeStatus({ cookie, origin: 'https://elsewhere.example' })).toBe(403);
    // Without the cookie the key may still come in connection_init: the upgrade is let through.
    expect(await upgradeStatus({ origin: 'https://elsewhere.example' })).toBe(101);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('GraphiQL subscriptions in Chromium without internet', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(() => browser?.close());

  it('signed in, starts sharingRequestUpdated in the IDE and shows the event', async () => {
    const context = await browser.newContext(); // no Authorization header anywhere
    const elsewhere: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    const sockets: string[] = [];
    const page = await context.newPage();
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(`${origin}/sign-in?next=/graphiql`);
    await page.locator('input[name="apiKey"]').fill(provider.lab.keys.manager);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/graphiql`);
    // The tabs GraphiQL kept from that first visit do not hide the ?query= link.

    await page.goto(`${origin}/graphiql?query=${encodeURIComponent(SHARING_REQUEST_UPDATED)}`);
    await page.locator('.graphiql-execute-button').click({ timeout: 20_000 });
    // Live once the API process listens on the provider's topic.
    await untilListening(
      t.config.REDIS_URL,
      t.c.events.topic('sharing_request', provider.lab.institution.id),
    );
    const id = await submitRequest('Seen in the IDE');

    const result = page.locator('.result-window');
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toContain(id);
    const shown = (await result.textContent()) ?? '';
    expect(shown).toContain('"submitted"');
    expect(shown).toContain('"provider"');
    expect(sockets).toEqual([`${origin.replace(/^http/, 'ws')}/graphql`]);
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
