import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  openGraphqlSocket,
  SHARING_REQUEST_UPDATED,
  untilListening,
  updateOf,
  type GraphqlSocket,
  type WsMessage,
} from './helpers/graphql-ws.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, makeInstitution, until, type TestApp } from './helpers/test-app.js';

// The GraphQL subscription `sharingRequestUpdated` over a real WebSocket: every notified transition
// reaches both institutions of the request, each as its side sees it, and nobody else; the key is
// checked when the socket opens and the request named is one the caller may see.

let t: TestApp;
let base: string;
let provider: Provider;
let requester: Requester;
let agreementId: string;
const sockets: GraphqlSocket[] = [];
const channels = new Set<string>();

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  agreementId = (await makeAgreement(provider, requester.institution.id)).id;
});
// Each test starts with no one listening, so a channel heard again means the new socket is live.
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const channel of channels) await untilListening(t.config.REDIS_URL, channel, false);
  channels.clear();
});
afterAll(() => t.close());

async function socket(opts: Parameters<typeof openGraphqlSocket>[1]): Promise<GraphqlSocket> {
  const s = await openGraphqlSocket(base, opts);
  sockets.push(s);
  return s;
}

const channelOf = (institutionId: string) => {
  const channel = t.c.events.topic('sharing_request', institutionId);
  channels.add(channel);
  return channel;
};

/** A socket acknowledged and subscribed, once the API process listens on the institution's topic. */
async function subscribed(key: string, institutionId: string, id?: string): Promise<GraphqlSocket> {
  const s = await socket({ init: { authorization: `Bearer ${key}` } });
  expect((await s.next()).type).toBe('connection_ack');
  s.subscribe('1', SHARING_REQUEST_UPDATED, id ? { id } : {});
  await untilListening(t.config.REDIS_URL, channelOf(institutionId));
  return s;
}

async function draft(): Promise<string> {
  const res = await requester.call('POST', '/v1/sharing-requests', {
    providerInstitutionId: provider.lab.institution.id,
    agreementId,
    use: 'external_sharing',
    ethicsApprovalRef: 'EC-SUB-1',
    specimenCount: 1,
    quantityPerSpecimen: 0.5,
    unit: 'mL',
    purpose: 'Live updates',
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>().id;
}

async function submit(id: string): Promise<void> {
  const res = await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
  expect(res.statusCode, res.body).toBe(200);
}

const codeOf = (m: WsMessage) => {
  expect(m.type, JSON.stringify(m)).toBe('error');
  return (m.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code;
};

describe('sharingRequestUpdated', () => {
  it('tells both institutions of a transition, each as its side sees it, and no third one', async () => {
    const id = await draft();
    const other = await makeInstitution(t);
    const atProvider = await subscribed(provider.lab.keys.manager, provider.lab.institution.id);
    const atRequester = await subscribed(requester.keys.partner, requester.institution.id);
    const atOther = await subscribed(other.keys.manager, other.institution.id);
    await submit(id);

    const seen = updateOf(await atProvider.next());
    expect(seen.request).toMatchObject({ id, state: 'submitted', side: 'provider' });
    expect(seen.request.allowedActions).toContain('start_review');
    expect(seen.event).toMatchObject({ action: 'submit', fromState: 'draft', toState: 'submitted' });
    const told = updateOf(await atRequester.next());
    expect(told.request).toMatchObject({ id, state: 'submitted', side: 'requester' });
    expect(told.request.allowedActions).not.toContain('start_review');
    expect(told.event).toMatchObject({ id: seen.event.id, action: 'submit' });
    expect(await atOther.silence(1_000)).toBeUndefined();
  });

  it('with an id, carries only that request; the key may come in the upgrade request', async () => {
    const first = await draft();
    const second = await draft();
    await submit(second);
    // its own submission told before the socket opens
    await until(async () => {
      const { rows } = await t.sql.query(
        "select 1 from sharing_request_event where request_id = $1 and action = 'notified'",
        [second],
      );
      return rows.length > 0;
    });
    const s = await socket({ header: provider.lab.keys.technician });
    expect((await s.next()).type).toBe('connection_ack');
    s.subscribe('7', SHARING_REQUEST_UPDATED, { id: second });
    await untilListening(t.config.REDIS_URL, channelOf(provider.lab.institution.id));
    await submit(first);
    const review = await provider.lab.post(`/v1/sharing-requests/${second}/start-review`, {});
    expect(review.statusCode, review.body).toBe(200);
    const m = await s.next();
    expect(m.id).toBe('7');
    expect(updateOf(m)).toMatchObject({
      request: { id: second, state: 'under_review', side: 'provider' },
      event: { action: 'start_review' },
    });
  });

  it("answers SHARING_REQUEST_NOT_FOUND for a request the caller's side may not see", async () => {
    const id = await draft();
    const other = await makeInstitution(t);
    for (const key of [other.keys.manager, provider.lab.keys.manager]) {
      // another institution's request, and a draft its provider is not shown yet
      const s = await socket({ init: { authorization: `Bearer ${key}` } });
      expect((await s.next()).type).toBe('connection_ack');
      s.subscribe('2', SHARING_REQUEST_UPDATED, { id });
      expect(codeOf(await s.next())).toBe('SHARING_REQUEST_NOT_FOUND');
    }
  });

  it('refuses a key without sharing.read (FORBIDDEN), a bad id, and a socket without a key', async () => {
    const noRead = await socket({ init: { authorization: `Bearer ${requester.keys.integration}` } });
    expect((await noRead.next()).type).toBe('connection_ack');
    noRead.subscribe('3', SHARING_REQUEST_UPDATED);
    expect(codeOf(await noRead.next())).toBe('FORBIDDEN');

    const badId = await socket({ init: { authorization: `Bearer ${requester.keys.partner}` } });
    expect((await badId.next()).type).toBe('connection_ack');
    badId.subscribe('4', SHARING_REQUEST_UPDATED, { id: 'not-a-uuid' });
    expect(codeOf(await badId.next())).toBe('VALIDATION_FAILED');

    const keyless = await socket({});
    expect((await keyless.next()).type).toBe('connection_ack');
    keyless.subscribe('5', SHARING_REQUEST_UPDATED);
    expect(codeOf(await keyless.next())).toBe('UNAUTHENTICATED');
  });

  it('closes a socket whose connection_init carries an unknown key', async () => {
    const s = await socket({ init: { authorization: 'Bearer bb_unknown_key_0000000000000000' } });
    expect(await s.next()).toEqual({ type: 'connection_error', payload: { message: 'Forbidden' } });
    await s.closed;
  });
});
