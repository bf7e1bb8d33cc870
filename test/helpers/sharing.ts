import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import { makeLab, uid, type ContainerBody, type Lab, type SpecimenBody } from './inventory.js';
import { bearer, makeInstitution, type TestApp } from './test-app.js';

// Sharing fixtures: a provider lab with consented donors and boxed specimens, a requesting
// institution, and an agreement between them, all made through the REST API.

export type Requester = Awaited<ReturnType<typeof makeInstitution>> & {
  call(
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    payload?: unknown,
    opts?: { role?: Role; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
};

export async function makeRequester(t: TestApp): Promise<Requester> {
  const inst = await makeInstitution(t, { kind: 'research_hospital' });
  return {
    ...inst,
    call: (method, url, payload, opts = {}) =>
      t.app.inject({
        method,
        url,
        headers: { ...bearer(inst.keys[opts.role ?? 'partner']), ...opts.headers },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      }),
  };
}

export interface Provider {
  lab: Lab;
  protocolId: string;
  /** a fresh box (9 x 9) */
  box(): Promise<ContainerBody>;
  /** a donor with a consent answering each tier as given (every tier of the protocol otherwise yes) */
  donor(responses?: Record<string, string>, extra?: Record<string, unknown>): Promise<string>;
  /** a stored specimen of the donor in the box */
  specimen(
    participantId: string | null,
    box: ContainerBody,
    input?: Record<string, unknown>,
  ): Promise<SpecimenBody>;
}

const TIERS = ['GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'];

export async function makeProvider(t: TestApp): Promise<Provider> {
  const lab = await makeLab(t);
  const protocol = await lab.post('/v1/protocols', {
    code: uid('P'),
    title: 'Shared cohort',
    ethicsApprovalRef: 'EC-1',
    consentTiers: TIERS,
    diseaseArea: 'tumour',
  });
  expect(protocol.statusCode, protocol.body).toBe(201);
  const protocolId = protocol.json<{ id: string }>().id;
  // Next free position of each 9 x 9 box, filled row by row.
  const used = new Map<string, number>();
  const nextPosition = (boxId: string) => {
    const n = used.get(boxId) ?? 0;
    used.set(boxId, n + 1);
    return `${String.fromCharCode(65 + Math.floor(n / 9))}${(n % 9) + 1}`;
  };
  return {
    lab,
    protocolId,
    box: () => lab.box({ rows: 9, cols: 9 }),
    async donor(responses = {}, extra = {}) {
      const p = await lab.post('/v1/participants', {
        protocolId,
        protocolParticipantId: uid('D'),
        sex: 'female',
        birthYear: 1970,
        diagnoses: ['C50.9'],
        ...extra,
      });
      expect(p.statusCode, p.body).toBe(201);
      const participantId = p.json<{ id: string }>().id;
      const c = await lab.post('/v1/consents', {
        participantId,
        documentVersion: 'v1',
        signedOn: '2024-01-10',
        obtainedBy: 'nurse-1',
        responses: { ...Object.fromEntries(TIERS.map((tier) => [tier, 'yes'])), ...responses },
      });
      expect(c.statusCode, c.body).toBe(201);
      return participantId;
    },
    async specimen(participantId, box, input = {}) {
      const res = await lab.post('/v1/specimens', {
        barcode: uid('S'),
        type: 'plasma',
        quantity: 1,
        unit: 'mL',
        collectedAt: '2024-03-01T08:00:00Z',
        sprecCode: 'PL1-PED-A-B-N-B-D',
        sprecVersion: '2.0',
        ...(participantId ? { participantId, protocolId } : {}),
        containerId: box.id,
        position: nextPosition(box.id),
        ...input,
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<SpecimenBody>();
    },
  };
}

/** An agreement from the provider to the requester, made by the provider's manager. */
export async function makeAgreement(
  provider: Provider,
  requesterId: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string }> {
  const res = await provider.lab.post('/v1/agreements', {
    requesterInstitutionId: requesterId,
    uses: ['external_sharing', 'genetic_research'],
    mtaReference: uid('MTA'),
    validFrom: '2024-01-01',
    reviewDeadlineDays: 7,
    ...extra,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>();
}

/**
 * Runs the proposal job the submission queued, as a worker would: its outbox row's payload
 * through the registry's handler. Returns the handler's answer.
 */
export async function runProposalJob(t: TestApp, requestId: string): Promise<unknown> {
  const { rows } = await t.sql.query<{ id: string; payload: Record<string, unknown> }>(
    "select id, payload from outbox where job_name = 'sharing.proposeItems' and payload->>'sharingRequestId' = $1",
    [requestId],
  );
  expect(rows).toHaveLength(1);
  return runJob(t, 'sharing.proposeItems', rows[0]!.payload, rows[0]!.id);
}

/** Runs one job through the registry as the worker does (payload parsed, system actor). */
export async function runJob(t: TestApp, name: string, payload: Record<string, unknown>, id = 'test-job') {
  const bound = t.c.registry.get(name);
  if (!bound) throw new Error(`no job ${name}`);
  const data = bound.contract.payload.parse({ requestId: 'test', ...payload });
  return bound.handle(
    { actor: { kind: 'system', name: `job:${name}`, institutionId: null }, requestId: 'test', log: t.c.log },
    data,
    { id, attemptsMade: 0, progress: async () => undefined },
  );
}
