import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpWebhookSender, isInternalAddress } from '../src/modules/webhooks/index.js';
import { bearer, createTestApp, makeInstitution, until, type TestApp } from './helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Issue 13, finding 4: webhook URLs cannot reach inside the network, at save time and at every
// delivery; no credentials, no redirects followed, a short answer excerpt shown to admins only.
// `strict` runs with the production defaults (https only, no private host allowed); `dev` allows
// the local receiver through the explicit WEBHOOK_ALLOW_* configuration.

let strict: TestApp;
let dev: TestApp;
let receiver: WebhookReceiver;
beforeAll(async () => {
  strict = await createTestApp({
    workers: true,
    env: { WEBHOOK_ALLOW_HTTP: '0', WEBHOOK_ALLOW_PRIVATE_HOSTS: '' },
  });
  dev = await createTestApp({ workers: true });
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await strict.close();
  await dev.close();
  await receiver.close();
});

async function setUrl(t: TestApp, webhookUrl: string) {
  const inst = await makeInstitution(t, { roles: ['admin', 'integration'] });
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${inst.institution.id}`,
    headers: { ...bearer(inst.keys.admin), 'if-match': 'W/"1"' },
    payload: { webhookUrl },
  });
  return { inst, res };
}

describe('webhook URLs when saved', () => {
  it.each([
    ['http://hooks.example.org/biobank', 'must be https'],
    ['https://127.0.0.1/hook', 'internal address (127.0.0.1)'],
    ['https://localhost/hook', 'internal address'],
    ['https://169.254.169.254/latest/meta-data', 'internal address (169.254.169.254)'],
    ['https://[::1]:5432/', 'internal address (::1)'],
    ['https://[::ffff:127.0.0.1]/', 'internal address'],
    ['https://[::ffff:a9fe:a9fe]/', 'internal address'],
    ['https://[fd00:ec2::254]/', 'internal address'],
    ['https://[fe80::1]/', 'internal address'],
    ['https://10.1.2.3/', 'internal address (10.1.2.3)'],
    ['https://172.20.0.1/', 'internal address'],
    ['https://192.168.1.1/', 'internal address'],
    ['https://100.64.0.1/', 'internal address'],
    ['https://0.0.0.0/', 'internal address'],
    ['https://0x7f000001/', 'four decimal numbers'],
    ['https://2130706433/', 'four decimal numbers'],
    ['https://127.1/', 'four decimal numbers'],
    ['https://0177.0.0.1/', 'four decimal numbers'],
    ['https://134744072/', 'four decimal numbers'],
    ['https://user:pass@10.0.0.1/', 'must not carry credentials'],
    ['https://user@hooks.example.org/', 'must not carry credentials'],
  ])('refuses %s with 422 WEBHOOK_URL_REFUSED, changing nothing', async (url, why) => {
    const { inst, res } = await setUrl(strict, url);
    expect(res.statusCode).toBe(422);
    const body = res.json<{ code: string; detail: string; errors: { field: string }[] }>();
    expect(body.code).toBe('WEBHOOK_URL_REFUSED');
    expect(body.detail).toContain(why);
    expect(body.errors[0]!.field).toBe('webhookUrl');
    expect(body.detail).not.toContain('pass');
    const { rows } = await strict.sql.query('select webhook_url, version from institution where id = $1', [
      inst.institution.id,
    ]);
    expect(rows[0]).toEqual({ webhook_url: null, version: 1 });
  });

  it('accepts a public https URL (a name that does not resolve yet is checked at delivery)', async () => {
    const { res } = await setUrl(strict, 'https://hooks.example.org/biobank');
    expect(res.statusCode).toBe(200);
  });

  it('accepts the local receiver only through the explicit allow-list configuration', async () => {
    expect((await setUrl(dev, `${receiver.url}/dev`)).res.statusCode).toBe(200);
    expect((await setUrl(strict, `${receiver.url}/dev`)).res.statusCode).toBe(422);
  });

  it('classifies addresses: public ones pass, every internal range is caught', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])
      expect(isInternalAddress(a)).toBe(false);
    for (const a of [
      '127.0.0.53',
      '169.254.169.254',
      '::',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '64:ff9b:1::a00:1',
      '::ffff:0:7f00:1',
      'fc00::1',
      'ff02::1',
    ])
      expect(isInternalAddress(a)).toBe(true);
  });
});

describe('webhook URLs at delivery', () => {
  it('checks the stored URL again before connecting: an internal target gets nothing', async () => {
    const { inst, res } = await setUrl(strict, 'https://hooks.example.org/later');
    expect(res.statusCode).toBe(200);
    // As if the URL had been saved before the rule, or its name now resolved inside.
    await strict.sql.query('update institution set webhook_url = $1 where id = $2', [
      `${receiver.url.replace('http:', 'https:')}/rebound`,
      inst.institution.id,
    ]);
    const ping = await strict.app.inject({
      method: 'POST',
      url: '/v1/webhook-deliveries/ping',
      headers: bearer(inst.keys.admin),
    });
    expect(ping.statusCode).toBe(202);
    const id = ping.json<{ id: string }>().id;
    const attempt = await until(async () => {
      const { rows } = await strict.sql.query<{ error: string | null }>(
        'select error from webhook_attempt where delivery_id = $1',
        [id],
      );
      return rows[0];
    });
    expect(attempt.error).toContain('internal address (127.0.0.1)');
    expect(receiver.on('/rebound')).toHaveLength(0);
  });

  it('refuses a name that does not resolve at delivery', async () => {
    const send = createHttpWebhookSender({ allowHttp: false, allowPrivateHosts: [] });
    await expect(
      send({ url: 'https://hooks.example.invalid/x', headers: {}, body: '{}', timeoutMs: 2_000 }),
    ).rejects.toMatchObject({ code: 'WEBHOOK_URL_REFUSED' });
  });

  it('does not follow redirects and keeps a short excerpt of the answer', async () => {
    const hits: string[] = [];
    const server: Server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') res.writeHead(302, { location: '/inside' }).end();
      else res.writeHead(500, { 'content-type': 'text/plain' }).end('e'.repeat(10_000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const send = createHttpWebhookSender({ allowHttp: true, allowPrivateHosts: ['127.0.0.1'] });
      const redirected = await send({ url: `${base}/redirect`, headers: {}, body: '{}', timeoutMs: 2_000 });
      expect(redirected.status).toBe(302);
      const large = await send({ url: `${base}/large`, headers: {}, body: '{}', timeoutMs: 2_000 });
      expect(large.status).toBe(500);
      expect(large.bodyExcerpt.length).toBeLessThanOrEqual(200);
      expect(hits).toEqual(['/redirect', '/large']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("shows the receiver's answer to admins only", async () => {
    const { inst, res } = await setUrl(dev, `${receiver.url}/answers`);
    expect(res.statusCode).toBe(200);
    receiver.answer('/answers', 500, 500, 500, 500, 500, 500);
    const ping = await dev.app.inject({
      method: 'POST',
      url: '/v1/webhook-deliveries/ping',
      headers: bearer(inst.keys.admin),
    });
    const id = ping.json<{ id: string }>().id;
    await until(async () => receiver.on('/answers').length > 0);
    type Attempts = { attempts: { responseExcerpt: string | null }[] };
    const admin = await until(async () => {
      const r = await dev.app.inject({
        method: 'GET',
        url: `/v1/webhook-deliveries/${id}`,
        headers: bearer(inst.keys.admin),
      });
      return r.json<Attempts>().attempts.length ? r.json<Attempts>() : null;
    });
    expect(admin.attempts[0]!.responseExcerpt).toBe('receiver failure');
    const integration = await dev.app.inject({
      method: 'GET',
      url: `/v1/webhook-deliveries/${id}`,
      headers: bearer(inst.keys.integration),
    });
    expect(integration.statusCode).toBe(200);
    const attempts = integration.json<Attempts>().attempts;
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((a) => a.responseExcerpt === null)).toBe(true);
  });
});
