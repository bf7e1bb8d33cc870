import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// A person signs in by pasting an API key; the cookie then stands for it on /admin/queues and for
// GraphiQL's calls, never for the API itself, and cookie-authenticated writes need the CSRF token.

let t: TestApp;
// The queue board is the operator's admins' (README, Security): the signed-in keys are theirs.
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let memberAdmin: string;
const ORIGIN = 'http://localhost:80';

beforeAll(async () => {
  t = await createTestApp();
  // The member first: a test below revokes the most recent 'admin key', the operator's.
  memberAdmin = (await makeInstitution(t, { roles: ['admin'] })).keys.admin;
  ({ keys } = await makeInstitution(t, { operator: true }));
});
afterAll(() => t.close());

const signIn = (apiKey: string, origin = ORIGIN, next = '/admin/queues') =>
  t.app.inject({
    method: 'POST',
    url: '/sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin, host: 'localhost:80' },
    payload: new URLSearchParams({ apiKey, next }).toString(),
  });

async function session(apiKey: string): Promise<string> {
  const res = await signIn(apiKey);
  expect(res.statusCode, res.body).toBe(303);
  const cookie = String(res.headers['set-cookie']);
  return cookie.split(';')[0]!;
}

describe('sign-in', () => {
  it('answers a form, and for a good key a short-lived HttpOnly SameSite=Strict cookie and a redirect', async () => {
    const form = await t.app.inject({ method: 'GET', url: '/sign-in?next=/graphiql' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('name="apiKey"');
    expect(form.body).toContain('value="/graphiql"');

    const res = await signIn(keys.admin);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/queues');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^biobank_session=[\w-]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(keys.admin); // sealed, not the key itself
  });

  it('refuses a bad key with 401 and no cookie, a form from another site with 403, and a foreign redirect', async () => {
    const bad = await signIn('bbk_not-a-key');
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
    const foreign = await signIn(keys.admin, 'https://evil.example');
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['set-cookie']).toBeUndefined();
    expect((await signIn(keys.admin, ORIGIN, 'https://evil.example/')).headers.location).toBe('/graphiql');
  });

  it('signs out by clearing the cookie', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/sign-out',
      headers: { origin: ORIGIN, host: 'localhost:80', cookie: await session(keys.admin) },
    });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers['set-cookie'])).toMatch(/^biobank_session=; Path=\/; Max-Age=0;/);
  });
});

describe('the session cookie', () => {
  it('opens the queue board to a signed-in admin, read-only without the CSRF token', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(401);
    const cookie = await session(keys.admin);
    const board = await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie } });
    expect(board.statusCode).toBe(200);
    const member = await t.app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { cookie: await session(memberAdmin) },
    });
    expect(member.statusCode).toBe(403);
    const write = await t.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/webhooks/retry/failed',
      headers: { cookie },
    });
    expect(write.statusCode).toBe(403);
    expect(write.json()).toMatchObject({ code: 'FORBIDDEN' });
    // The board still answers only admins.
    const technician = await session(keys.technician);
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: technician } }))
        .statusCode,
    ).toBe(403);
  });

  it('runs GraphiQL calls with the CSRF token the page carries, and none without it', async () => {
    const cookie = await session(keys.technician);
    const page = await t.app.inject({ method: 'GET', url: '/graphiql', headers: { cookie } });
    const csrf = /name="biobank-csrf" content="([\w-]+)"/.exec(page.body)?.[1];
    expect(csrf).toBeDefined();
    expect(page.body).toContain('action="/sign-out"');
    const query = { query: '{ viewer { role } }' };
    const without = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { cookie },
      payload: query,
    });
    expect(without.statusCode).toBe(403);
    const withToken = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { cookie, 'x-csrf-token': csrf! },
      payload: query,
    });
    expect(withToken.json()).toEqual({ data: { viewer: { role: 'technician' } } });
    // Another session's token does not fit this one.
    const other = await session(keys.technician);
    const crossed = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { cookie: other, 'x-csrf-token': csrf! },
      payload: query,
    });
    expect(crossed.statusCode).toBe(403);
  });

  it('is not an API credential, and ends with its key or when tampered with', async () => {
    const cookie = await session(keys.manager);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: { cookie } })).statusCode,
    ).toBe(401);
    const tampered = cookie.slice(0, -2) + (cookie.endsWith('A') ? 'BB' : 'AA');
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: tampered } })).statusCode,
    ).toBe(401);

    const board = await session(keys.admin);
    const { rows } = await t.sql.query<{ id: string }>(
      "select id from api_key where name = 'admin key' order by created_at desc limit 1",
    );
    const revoke = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${rows[0]!.id}/revoke`,
      headers: bearer(keys.admin),
    });
    expect(revoke.statusCode, revoke.body).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: board } })).statusCode,
    ).toBe(401);
  });
});
