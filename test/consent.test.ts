import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../src/db/transaction.js';
import {
  bearer,
  createTestApp,
  makeInstitution,
  systemCtx,
  type TestApp,
  until,
} from './helpers/test-app.js';

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let institutionId: string;
let boxId: string;
let protocolId: string;
let bulkBoxId: string;

const post = (token: string, url: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object });
const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

let seq = 0;
async function participant(responses: Record<string, string>, extra: Record<string, unknown> = {}) {
  const p = await post(keys.manager, '/v1/participants', {
    protocolId,
    protocolParticipantId: `P-${++seq}`,
    sex: 'female',
    birthYear: 1970,
  });
  expect(p.statusCode).toBe(201);
  const participantId = p.json<{ id: string }>().id;
  const c = await post(keys.manager, '/v1/consents', {
    participantId,
    documentVersion: 'v1',
    signedOn: '2024-01-10',
    obtainedBy: 'nurse-7',
    responses,
    ...extra,
  });
  expect(c.statusCode).toBe(201);
  return { participantId, consentId: c.json<{ id: string }>().id };
}

async function specimen(participantId: string, quantity = 10) {
  const r = await post(keys.technician, '/v1/specimens', {
    barcode: `C${Date.now()}${++seq}`,
    type: 'whole_blood',
    quantity,
    participantId,
    containerId: bulkBoxId,
  });
  expect(r.statusCode).toBe(201);
  return r.json<{ id: string; barcode: string }>();
}

async function aliquot(id: string, n: number, q = 0.5) {
  const r = await post(keys.technician, `/v1/specimens/${id}/aliquots`, {
    aliquots: Array.from({ length: n }, () => ({ quantity: q })),
  });
  return r;
}

async function custodyCount(specimenId: string, type?: string) {
  const r = await t.sql.query<{ n: number }>(
    `select count(*)::int as n from custody_event where specimen_id = $1 ${type ? 'and type = $2' : ''}`,
    type ? [specimenId, type] : [specimenId],
  );
  return r.rows[0]!.n;
}

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  const inst = await makeInstitution(t);
  keys = inst.keys;
  institutionId = inst.institution.id;
  const box = await post(keys.manager, '/v1/containers', {
    kind: 'freezer',
    barcode: `FZ-${Date.now()}`,
    temperatureC: -80,
  });
  expect(box.statusCode).toBe(201);
  boxId = box.json<{ id: string }>().id;
  // A box without a grid: tubes go in without positions (a bulk bag), so they are available.
  const bulk = await post(keys.manager, '/v1/containers', {
    kind: 'box',
    barcode: `BULK-${Date.now()}`,
    parentId: boxId,
  });
  expect(bulk.statusCode).toBe(201);
  bulkBoxId = bulk.json<{ id: string }>().id;
  const proto = await post(keys.manager, '/v1/protocols', {
    code: 'ONCO-1',
    title: 'Oncology cohort',
    ethicsApprovalRef: 'EC-2024-001',
    consentTiers: ['GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'],
  });
  expect(proto.statusCode).toBe(201);
  protocolId = proto.json<{ id: string }>().id;
});
afterAll(() => t.close());

describe('uses and eligibility', () => {
  it('names the scan of a tray the consent refuses, and checks nothing out', async () => {
    const { participantId } = await participant({ GENETIC_RESEARCH: 'yes', EXTERNAL_SHARING: 'no' });
    const [fine, refused] = [await specimen(participantId), await specimen(participantId)];
    const r = await post(keys.technician, '/v1/scans', {
      scans: [
        { action: 'check_out', barcode: fine.barcode, use: 'genetic_research' },
        { action: 'check_out', barcode: refused.barcode, use: 'external_sharing' },
      ],
    });
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json()).toMatchObject({
      code: 'BATCH_REJECTED',
      errors: [{ field: 'scans.1.use', code: 'CONSENT_NOT_GRANTED' }],
    });
    const { rows } = await t.sql.query<{ status: string }>('select status from specimen where id = any($1)', [
      [fine.id, refused.id],
    ]);
    expect(rows.map((x) => x.status)).toEqual(['available', 'available']);
  });

  it('allows or refuses each use exactly as the tier responses say', async () => {
    const { participantId } = await participant({ GENETIC_RESEARCH: 'yes', EXTERNAL_SHARING: 'no' });
    const cases: [string, number, string | null][] = [
      ['internal_research', 200, null],
      ['genetic_research', 200, null],
      ['external_sharing', 409, 'EXTERNAL_SHARING'],
      ['commercial_use', 409, 'COMMERCIAL_USE'],
    ];
    for (const [use, status, tier] of cases) {
      const s = await specimen(participantId);
      const r = await post(keys.technician, `/v1/specimens/${s.id}/check-out`, { use });
      expect(r.statusCode, use).toBe(status);
      if (tier) {
        expect(r.json()).toMatchObject({ code: 'CONSENT_NOT_GRANTED', tier });
        expect(r.json<{ detail: string }>().detail).toContain(tier);
        const row = await t.sql.query<{ status: string }>('select status from specimen where id = $1', [
          s.id,
        ]);
        expect(row.rows[0]!.status).toBe('available');
      }
    }
    const s = await specimen(participantId);
    // The scan lookup shows the same outcome at the bench.
    const scan = await get(keys.technician, `/v1/specimens/by-barcode/${s.barcode}`);
    expect(scan.statusCode).toBe(200);
    expect(scan.json<{ permittedUses: string[] }>().permittedUses).toEqual([
      'internal_research',
      'genetic_research',
    ]);
    const refused = await post(keys.technician, `/v1/specimens/${s.id}/aliquots`, {
      use: 'commercial_use',
      aliquots: [{ quantity: 1 }],
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'CONSENT_NOT_GRANTED', tier: 'COMMERCIAL_USE' });
  });

  it('refuses every use of an expired consent', async () => {
    const { participantId } = await participant(
      { GENETIC_RESEARCH: 'yes' },
      { signedOn: '2020-01-01', expiresOn: '2021-01-01' },
    );
    const s = await specimen(participantId);
    const r = await post(keys.technician, `/v1/specimens/${s.id}/check-out`, { use: 'internal_research' });
    expect(r.statusCode).toBe(409);
    expect(r.json<{ code: string; detail: string }>().detail).toContain('expired');
    const consent = await get(keys.manager, `/v1/consents?participantId=${participantId}`);
    expect(consent.json<{ items: { status: string }[] }>().items[0]!.status).toBe('expired');
  });

  it('refuses a specimen of a donor with no consent on file', async () => {
    const p = await post(keys.manager, '/v1/participants', {
      protocolId,
      protocolParticipantId: `NC-${++seq}`,
    });
    const s = await specimen(p.json<{ id: string }>().id);
    const r = await post(keys.technician, `/v1/specimens/${s.id}/check-out`, {});
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'CONSENT_NOT_GRANTED' });
  });
});

describe('withdrawal cascade', () => {
  it('holds three generations of aliquots and derivatives with one custody event each, and a re-run changes nothing', async () => {
    const { participantId, consentId } = await participant({ GENETIC_RESEARCH: 'yes' });
    const primary = await specimen(participantId, 20);
    const gen1 = (await aliquot(primary.id, 2, 2)).json<{ children: { id: string }[] }>().children;
    const dna = await post(keys.technician, `/v1/specimens/${gen1[0]!.id}/derivatives`, {
      type: 'dna',
      consumedQuantity: 1,
      derivatives: [{ quantity: 100 }],
    });
    expect(dna.statusCode).toBe(201);
    const dnaId = dna.json<{ children: { id: string }[] }>().children[0]!.id;
    const gen3 = (await aliquot(dnaId, 2, 10)).json<{ children: { id: string }[] }>().children;
    const all = [primary.id, ...gen1.map((c) => c.id), dnaId, ...gen3.map((c) => c.id)];
    expect(all).toHaveLength(6);

    const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, {
      scope: 'stop_future_use',
      reason: 'donor request',
    });
    expect(w.statusCode).toBe(202);
    const cascadeId = w.json<{ cascade: { id: string } }>().cascade.id;
    const done = await until(async () => {
      const c = await get(keys.manager, `/v1/consent-cascades/${cascadeId}`);
      const body = c.json<{ status: string; specimensFound: number; specimensChanged: number }>();
      return body.status === 'completed' ? body : null;
    });
    expect(done.specimensFound).toBe(6);
    expect(done.specimensChanged).toBe(6);
    for (const id of all) {
      const row = await t.sql.query<{ holds: string[] }>('select holds from specimen where id = $1', [id]);
      expect(row.rows[0]!.holds).toContain('CONSENT_WITHDRAWN');
      expect(await custodyCount(id, 'consent_withdrawn')).toBe(1);
      const v = await get(keys.technician, `/v1/specimens/${id}/custody/verify`);
      expect(v.json<{ valid: boolean }>().valid).toBe(true);
    }
    const before = await Promise.all(all.map((id) => custodyCount(id)));
    const again = await t.c.services.consent.runCascade(systemCtx(t.c), cascadeId);
    expect(again.status).toBe('completed');
    expect(await Promise.all(all.map((id) => custodyCount(id)))).toEqual(before);
    const blocked = await post(keys.technician, `/v1/specimens/${gen1[1]!.id}/check-out`, {});
    expect(blocked.statusCode).toBe(409);
    const scanned = await get(keys.technician, `/v1/specimens/by-barcode/${primary.barcode}`);
    expect(scanned.json<{ permittedUses: string[]; holds: string[] }>()).toMatchObject({
      permittedUses: [],
      holds: ['CONSENT_WITHDRAWN'],
    });

    // A specimen of this donor registered after the withdrawal is born on hold.
    const late = await specimen(participantId);
    const lateRow = await t.sql.query<{ holds: string[] }>('select holds from specimen where id = $1', [
      late.id,
    ]);
    expect(lateRow.rows[0]!.holds).toEqual(['CONSENT_WITHDRAWN']);
  });

  it('leaves no new aliquot free of the hold when a withdrawal races with aliquoting', async () => {
    const { participantId, consentId } = await participant({ GENETIC_RESEARCH: 'yes' });
    const parents = await Promise.all(Array.from({ length: 4 }, () => specimen(participantId, 50)));
    const requests = parents.flatMap((p) => Array.from({ length: 5 }, () => aliquot(p.id, 1, 1)));
    const [withdrawal, ...results] = await Promise.all([
      post(keys.manager, `/v1/consents/${consentId}/withdraw`, { scope: 'stop_future_use' }),
      ...requests,
    ]);
    expect(withdrawal.statusCode).toBe(202);
    for (const r of results) expect([201, 409]).toContain(r.statusCode);
    const cascadeId = withdrawal.json<{ cascade: { id: string } }>().cascade.id;
    await until(async () => {
      const c = await t.sql.query<{ status: string }>('select status from consent_cascade where id = $1', [
        cascadeId,
      ]);
      return c.rows[0]?.status === 'completed';
    });
    const free = await t.sql.query(
      `select id from specimen where participant_id = $1 and not ('CONSENT_WITHDRAWN' = any(holds))`,
      [participantId],
    );
    expect(free.rowCount).toBe(0);
  });

  it('lifts the hold when a correction supersedes the re-consent before its cascade ran', async () => {
    const donor = await participant({ GENETIC_RESEARCH: 'yes' });
    const tube = await specimen(donor.participantId);
    const w = await post(keys.manager, `/v1/consents/${donor.consentId}/withdraw`, {
      scope: 'stop_future_use',
    });
    const cascadeId = w.json<{ cascade: { id: string } }>().cascade.id;
    await until(
      async () =>
        (
          await t.sql.query(`select 1 from consent_cascade where id = $1 and status = 'completed'`, [
            cascadeId,
          ])
        ).rowCount,
    );
    const consent = (documentVersion: string) =>
      post(keys.manager, '/v1/consents', {
        participantId: donor.participantId,
        documentVersion,
        signedOn: '2025-03-01',
        obtainedBy: 'nurse-7',
        responses: { GENETIC_RESEARCH: 'yes' },
      });
    // Back to back: the correction supersedes the re-consent while its cascade waits in the queue.
    expect((await consent('v2')).statusCode).toBe(201);
    expect((await consent('v2-corrected')).statusCode).toBe(201);
    await until(
      async () =>
        (await t.sql.query<{ holds: string[] }>('select holds from specimen where id = $1', [tube.id]))
          .rows[0]!.holds.length === 0,
    );
    const scan = await get(keys.technician, `/v1/specimens/by-barcode/${tube.barcode}`);
    expect(scan.json<{ permittedUses: string[] }>().permittedUses).toContain('genetic_research');
  });

  it('re-consent under a new version lifts the hold for stop_future_use but not after destroy_specimens', async () => {
    const liftable = await participant({ GENETIC_RESEARCH: 'yes' });
    const s1 = await specimen(liftable.participantId);
    const w1 = await post(keys.manager, `/v1/consents/${liftable.consentId}/withdraw`, {
      scope: 'stop_future_use',
    });
    await until(
      async () =>
        (
          await t.sql.query(`select 1 from consent_cascade where id = $1 and status = 'completed'`, [
            w1.json<{ cascade: { id: string } }>().cascade.id,
          ])
        ).rowCount,
    );
    const re = await post(keys.manager, '/v1/consents', {
      participantId: liftable.participantId,
      documentVersion: 'v2',
      signedOn: '2025-03-01',
      obtainedBy: 'nurse-7',
      responses: { GENETIC_RESEARCH: 'yes' },
    });
    expect(re.statusCode).toBe(201);
    await until(
      async () =>
        (await t.sql.query<{ holds: string[] }>('select holds from specimen where id = $1', [s1.id])).rows[0]!
          .holds.length === 0,
    );
    expect(await custodyCount(s1.id, 'hold_released')).toBe(1);
    const history = await get(keys.manager, `/v1/consents?participantId=${liftable.participantId}`);
    const versions = history.json<{
      items: { documentVersion: string; supersededAt: string | null; status: string }[];
    }>().items;
    expect(versions.map((v) => v.documentVersion)).toEqual(['v2', 'v1']);
    expect(versions[1]!.supersededAt).not.toBeNull();

    const destroy = await participant({ GENETIC_RESEARCH: 'yes' });
    const box = await post(keys.manager, '/v1/containers', {
      kind: 'box',
      barcode: `DBX-${Date.now()}`,
      parentId: boxId,
      grid: { rows: 9, cols: 9 },
    });
    const s2 = await post(keys.technician, '/v1/specimens', {
      barcode: `D${Date.now()}`,
      type: 'serum',
      quantity: 1,
      participantId: destroy.participantId,
      containerId: box.json<{ id: string }>().id,
      position: 'C5',
    });
    const s2id = s2.json<{ id: string; barcode: string }>();
    const w2 = await post(keys.manager, `/v1/consents/${destroy.consentId}/withdraw`, {
      scope: 'destroy_specimens',
    });
    await until(
      async () =>
        (
          await t.sql.query(`select 1 from consent_cascade where id = $1 and status = 'completed'`, [
            w2.json<{ cascade: { id: string } }>().cascade.id,
          ])
        ).rowCount,
    );
    const list = await get(keys.technician, '/v1/destruction-list');
    const item = list
      .json<{ items: { specimen: { id: string; location: { path: string } | null } }[] }>()
      .items.find((i) => i.specimen.id === s2id.id);
    expect(item?.specimen.location?.path).toMatch(/C5$/);
    await post(keys.manager, '/v1/consents', {
      participantId: destroy.participantId,
      documentVersion: 'v2',
      signedOn: '2025-03-01',
      obtainedBy: 'nurse-7',
      responses: {},
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(
      (await t.sql.query<{ holds: string[] }>('select holds from specimen where id = $1', [s2id.id])).rows[0]!
        .holds,
    ).toContain('CONSENT_WITHDRAWN');
    const confirm = await post(keys.technician, '/v1/destruction-list/confirm', { barcodes: [s2id.barcode] });
    expect(confirm.statusCode).toBe(200);
    const row = await t.sql.query<{ status: string; container_id: string | null }>(
      'select status, container_id from specimen where id = $1',
      [s2id.id],
    );
    expect(row.rows[0]).toEqual({ status: 'destroyed', container_id: null });
    expect(await custodyCount(s2id.id, 'destroyed')).toBe(1);
    const after = await get(keys.technician, '/v1/destruction-list');
    expect(
      after.json<{ items: { specimen: { id: string } }[] }>().items.some((i) => i.specimen.id === s2id.id),
    ).toBe(false);
  });

  it('sends a signed webhook to every partner that already received a withdrawn specimen', async () => {
    const partner = await makeInstitution(t, { kind: 'partner', roles: ['admin'] });
    const received: string[] = [];
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${partner.institution.id}`,
      headers: { ...bearer(partner.keys.admin), 'if-match': 'W/"1"' },
      payload: { webhookUrl: `http://127.0.0.1:${port}/hooks` },
    });
    expect(patch.statusCode).toBe(200);
    const { participantId, consentId } = await participant({
      GENETIC_RESEARCH: 'yes',
      EXTERNAL_SHARING: 'yes',
    });
    const s = await specimen(participantId);
    // A shipment to the partner, as the sharing capability records it.
    const ctx = systemCtx(t.c, institutionId);
    await inTransaction(t.c.db, ctx, async (tx) => {
      const { ledger } = t.c.services;
      const [row] = await ledger.lock(tx, institutionId, [s.id]);
      const [reserved] = await ledger.apply(tx, ctx, [{ kind: 'reserve', specimen: row!, details: {} }]);
      await ledger.apply(tx, ctx, [
        { kind: 'ship', specimen: reserved!, details: { recipientInstitutionId: partner.institution.id } },
      ]);
    });
    const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, { scope: 'stop_future_use' });
    expect(w.statusCode).toBe(202);
    await until(async () => received.length > 0);
    const payload = JSON.parse(received[0]!) as { type: string; data: { specimenIds: string[] } };
    expect(payload.type).toBe('consent.withdrawn');
    expect(payload.data.specimenIds).toEqual([s.id]);
    expect(JSON.stringify(payload)).not.toContain('P-');
    server.close();
  });
});

describe('bad input changes nothing', () => {
  it('answers unknown tier, a tier the protocol does not ask, a future signed date and a second withdrawal with 4xx', async () => {
    const p = await post(keys.manager, '/v1/participants', {
      protocolId,
      protocolParticipantId: `BI-${++seq}`,
    });
    const participantId = p.json<{ id: string }>().id;
    const count = async () =>
      (
        await t.sql.query<{ n: number }>('select count(*)::int as n from consent where participant_id = $1', [
          participantId,
        ])
      ).rows[0]!.n;
    const base = { participantId, documentVersion: 'v1', signedOn: '2024-01-10', obtainedBy: 'nurse' };
    const unknownTier = await post(keys.manager, '/v1/consents', {
      ...base,
      responses: { TELEPATHY: 'yes' },
    });
    expect(unknownTier.statusCode).toBe(400);
    const notAsked = await post(keys.manager, '/v1/consents', { ...base, responses: { RECONTACT: 'yes' } });
    expect(notAsked.statusCode).toBe(422);
    expect(notAsked.json()).toMatchObject({
      code: 'TIER_NOT_IN_PROTOCOL',
      errors: [{ field: 'responses.RECONTACT' }],
    });
    const future = await post(keys.manager, '/v1/consents', {
      ...base,
      signedOn: '2999-01-01',
      responses: {},
    });
    expect(future.statusCode).toBe(400);
    expect(future.json()).toMatchObject({ code: 'SIGNED_DATE_IN_FUTURE' });
    expect(await count()).toBe(0);
    const ok = await post(keys.manager, '/v1/consents', { ...base, responses: { GENETIC_RESEARCH: 'no' } });
    const id = ok.json<{ id: string }>().id;
    expect(
      (await post(keys.manager, `/v1/consents/${id}/withdraw`, { scope: 'stop_future_use' })).statusCode,
    ).toBe(202);
    const twice = await post(keys.manager, `/v1/consents/${id}/withdraw`, { scope: 'destroy_specimens' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ code: 'CONSENT_ALREADY_WITHDRAWN' });
    const scope = await t.sql.query<{ withdrawal_scope: string; n: number }>(
      `select withdrawal_scope, (select count(*)::int from consent_cascade where consent_id = $1) as n from consent where id = $1`,
      [id],
    );
    expect(scope.rows[0]).toEqual({ withdrawal_scope: 'stop_future_use', n: 1 });
  });

  it('records versions sent at once one after the other, each superseding the one before', async () => {
    const { participantId } = await participant({ GENETIC_RESEARCH: 'yes' });
    const sent = await Promise.all(
      ['2024-02-01', '2024-02-02', '2024-02-03', '2024-02-04'].map((signedOn, i) =>
        post(keys.manager, '/v1/consents', {
          participantId,
          documentVersion: `v${i + 2}`,
          signedOn,
          obtainedBy: 'nurse-7',
          responses: { GENETIC_RESEARCH: 'no' },
        }),
      ),
    );
    // A version older than one that committed first is refused as such; none is CONSENT_EXISTS.
    for (const r of sent) expect([201, 409], r.body).toContain(r.statusCode);
    expect(
      sent.filter((r) => r.statusCode === 409).map((r) => r.json<{ code: string }>().code),
    ).not.toContain('CONSENT_EXISTS');
    const chain = await t.sql.query<{ id: string; supersedes_id: string | null; superseded_at: Date | null }>(
      'select id, supersedes_id, superseded_at from consent where participant_id = $1 order by created_at',
      [participantId],
    );
    expect(chain.rows.filter((c) => c.superseded_at === null)).toHaveLength(1);
    expect(chain.rows).toHaveLength(1 + sent.filter((r) => r.statusCode === 201).length);
    chain.rows.slice(1).forEach((c, i) => expect(c.supersedes_id).toBe(chain.rows[i]!.id));
  });

  it('keeps nothing of a version whose session ended mid-write, and records it once when the keyed retry comes', async () => {
    const { participantId, consentId } = await participant({ GENETIC_RESEARCH: 'yes' });
    const requestId = `consent-lost-${++seq}`;
    // The record's audit row stalls, inside the transaction that superseded the current version.
    await t.sql.query(`
      create or replace function stall_consent_audit() returns trigger language plpgsql as $$
      begin perform pg_sleep(60); return new; end $$`);
    await t.sql.query(`
      create trigger stall_consent_audit before insert on audit_log for each row
      when (new.request_id = '${requestId}') execute function stall_consent_audit()`);
    const key = `consent-key-${seq}`;
    const send = (id: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/consents',
        headers: { ...bearer(keys.manager), 'idempotency-key': key, 'x-request-id': id },
        payload: {
          participantId,
          documentVersion: 'v9',
          signedOn: '2024-03-01',
          obtainedBy: 'nurse-7',
          responses: { GENETIC_RESEARCH: 'no' },
        },
      });
    const current = async () =>
      (
        await t.sql.query<{ id: string }>(
          'select id from consent where participant_id = $1 and superseded_at is null',
          [participantId],
        )
      ).rows.map((r) => r.id);
    try {
      const lost = send(requestId);
      let pid: number | undefined;
      for (let i = 0; i < 400 && pid === undefined; i++) {
        const { rows } = await t.sql.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'`,
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      expect(pid, 'the record stalled').toBeDefined();
      await t.sql.query('select pg_terminate_backend($1)', [pid]);
      expect((await lost).statusCode).toBe(503);
      expect(await current()).toEqual([consentId]);
    } finally {
      await t.sql.query('drop trigger stall_consent_audit on audit_log');
    }
    const retried = await send(`consent-retry-${seq}`);
    expect(retried.statusCode, retried.body).toBe(201);
    const replay = await send(`consent-replay-${seq}`);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await current()).toEqual([retried.json<{ id: string }>().id]);
    const { rows } = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from consent where participant_id = $1',
      [participantId],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('refuses a version signed before the current one, which stays current; the same day is a new version', async () => {
    const { participantId, consentId } = await participant({ GENETIC_RESEARCH: 'yes' });
    const base = { participantId, obtainedBy: 'nurse-7', responses: { GENETIC_RESEARCH: 'no' } };
    const older = await post(keys.manager, '/v1/consents', {
      ...base,
      documentVersion: 'v0',
      signedOn: '2023-06-01',
    });
    expect(older.statusCode, older.body).toBe(409);
    expect(older.json()).toMatchObject({
      code: 'CONSENT_SIGNED_BEFORE_CURRENT',
      errors: [{ field: 'signedOn' }],
    });
    const current = await t.sql.query<{ id: string; n: number }>(
      `select id, (select count(*)::int from consent where participant_id = $1) as n
         from consent where participant_id = $1 and superseded_at is null`,
      [participantId],
    );
    expect(current.rows).toEqual([{ id: consentId, n: 1 }]);
    const sameDay = await post(keys.manager, '/v1/consents', {
      ...base,
      documentVersion: 'v1b',
      signedOn: '2024-01-10',
    });
    expect(sameDay.statusCode, sameDay.body).toBe(201);
    expect(sameDay.json()).toMatchObject({ supersedesId: consentId, responses: { GENETIC_RESEARCH: 'no' } });
  });
});

describe('privacy', () => {
  it('hides identity fields from technicians and participants from partners', async () => {
    const p = await post(keys.manager, '/v1/participants', {
      protocolId,
      protocolParticipantId: `PV-${++seq}`,
      birthYear: 1980,
      mrn: 'MRN-555',
    });
    const id = p.json<{ id: string }>().id;
    expect(p.json<{ identity: unknown }>().identity).toMatchObject({
      protocolParticipantId: `PV-${seq}`,
      birthYear: 1980,
      hasMrn: true,
    });
    const tech = await get(keys.technician, `/v1/participants/${id}`);
    expect(tech.statusCode).toBe(200);
    expect(tech.json<{ identity: unknown }>().identity).toBeNull();
    expect(tech.body).not.toContain('PV-');
    expect((await get(keys.partner, `/v1/participants/${id}`)).statusCode).toBe(403);
    const raw = await t.sql.query('select * from participant where id = $1', [id]);
    expect(JSON.stringify(raw.rows[0])).not.toContain('MRN-555');
    const found = await post(keys.integration, '/v1/participants/search-by-mrn', { mrn: 'mrn-555' });
    expect(found.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toEqual([id]);
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(keys.technician),
      payload: { query: `{ viewer { role } }` },
    });
    expect(gql.statusCode).toBe(200);
  });
});
