import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import {
  openGraphqlSocket,
  SHARING_REQUEST_UPDATED,
  untilListening,
  updateOf,
  type GraphqlSocket,
} from './helpers/graphql-ws.js';
import { callAs, createProcessFixture, type ProcessFixture } from './helpers/process-fixture.js';
import type { ServerProcess } from './helpers/server-process.js';

// Subscriptions with several API processes (issue 10, point 8): a subscriber connected to one
// process hears a transition made through another. The subscriber's process runs no workers, so
// the event can only have come through Redis from the other process, whose worker notified it.

let f: ProcessFixture;
let listening: ServerProcess;
let acting: ServerProcess;
const sockets: GraphqlSocket[] = [];

beforeAll(async () => {
  f = await createProcessFixture();
  [listening, acting] = await Promise.all([f.start({ WORKERS: '0' }), f.start({ WORKERS: '1' })]);
}, 90_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await f.close();
});

describe('sharingRequestUpdated across API processes', () => {
  it('delivers, on one process, a transition made through another', async () => {
    const provider = await f.institutionWithKeys(['manager']);
    const requester = await f.institutionWithKeys(['partner']);
    const asProvider = callAs(acting, provider.keys.manager);
    const asRequester = callAs(acting, requester.keys.partner);
    const agreement = await asProvider('POST', '/v1/agreements', {
      requesterInstitutionId: requester.institutionId,
      uses: ['external_sharing'],
      mtaReference: 'MTA-PROC-1',
      validFrom: '2024-01-01',
      reviewDeadlineDays: 7,
    });
    expect(agreement.status, await agreement.clone().text()).toBe(201);
    const created = await asRequester('POST', '/v1/sharing-requests', {
      providerInstitutionId: provider.institutionId,
      agreementId: ((await agreement.json()) as { id: string }).id,
      use: 'external_sharing',
      ethicsApprovalRef: 'EC-PROC-1',
      specimenCount: 1,
      quantityPerSpecimen: 0.5,
      unit: 'mL',
      purpose: 'Two processes',
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const id = ((await created.json()) as { id: string }).id;

    const redisUrl = parseConfig({}).REDIS_URL;
    const subscriber = async (key: string, institutionId: string, only?: string) => {
      const s = await openGraphqlSocket(listening.url, { header: key });
      sockets.push(s);
      expect((await s.next()).type).toBe('connection_ack');
      s.subscribe('1', SHARING_REQUEST_UPDATED, only ? { id: only } : {});
      await untilListening(redisUrl, f.container.events.topic('sharing_request', institutionId));
      return s;
    };
    // The requester follows its request; the provider, not shown a draft, everything addressed to it.
    const atRequester = await subscriber(requester.keys.partner, requester.institutionId, id);
    const atProvider = await subscriber(provider.keys.manager, provider.institutionId);

    const submitted = await asRequester('POST', `/v1/sharing-requests/${id}/submit`, {});
    expect(submitted.status, await submitted.clone().text()).toBe(200);

    expect(updateOf(await atRequester.next(30_000))).toMatchObject({
      request: { id, state: 'submitted', side: 'requester' },
      event: { action: 'submit', toState: 'submitted' },
    });
    expect(updateOf(await atProvider.next(30_000))).toMatchObject({
      request: { id, state: 'submitted', side: 'provider' },
      event: { action: 'submit' },
    });
  }, 90_000);
});
