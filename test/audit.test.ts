import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/api-keys.service.js';
import { inTransaction } from '../src/db/transaction.js';
import { recordAudit } from '../src/modules/audit/audit.repo.js';
import { bearer, createTestApp, makeInstitution, systemCtx, type TestApp } from './helpers/test-app.js';
import type { AuditLogRow } from './helpers/audit.js';

let t: TestApp;
let operator: Awaited<ReturnType<typeof makeInstitution>>;

beforeAll(async () => {
  t = await createTestApp();
  // Dropping the database at close() can terminate t.sql's clients while they end (pg-pool
  // resolves end() before its clients close): a pool with no error listener rethrows that.
  t.sql.on('error', () => undefined);
  operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
});
afterAll(() => t.close());

const uniqueCode = () => `AU${randomBytes(4).toString('hex').toUpperCase()}`;

async function auditRows(where: string, params: unknown[]): Promise<AuditLogRow[]> {
  const { rows } = await t.sql.query<AuditLogRow>(
    `select * from audit_log where ${where} order by id`,
    params,
  );
  return rows;
}

async function apiKeyId(token: string): Promise<string> {
  const { rows } = await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
    hashToken(token),
  ]);
  if (!rows[0]) throw new Error('unknown token');
  return rows[0].id;
}

function rename(id: string, token: string, version: number, name: string) {
  return t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${id}`,
    headers: { ...bearer(token), 'if-match': `W/"${version}"` },
    payload: { name },
  });
}

function listAudit(token: string, query: Record<string, string | number>) {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  return t.app.inject({ method: 'GET', url: `/v1/audit?${qs.toString()}`, headers: bearer(token) });
}

interface AuditPage {
  items: { id: number; institutionId: string | null; action: string }[];
  nextCursor: string | null;
}

describe('writing the trail', () => {
  it('commits an audit row with the change: actor, action, entity, after values, request id and database time', async () => {
    const code = uniqueCode();
    const requestId = `audit-create-${randomBytes(4).toString('hex')}`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: { ...bearer(operator.keys.admin), 'x-request-id': requestId },
      payload: { code, name: 'Audited Biobank', kind: 'biobank' },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json<{ id: string }>();

    const rows = await auditRows('entity_type = $1 and entity_id = $2', ['institution', created.id]);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      institution_id: operator.institution.id,
      actor: `api_key:${await apiKeyId(operator.keys.admin)}`,
      actor_role: 'admin',
      action: 'createInstitution',
      entity_type: 'institution',
      entity_id: created.id,
      before: null,
      request_id: requestId,
    });
    expect(row.after).toMatchObject({
      id: created.id,
      code,
      name: 'Audited Biobank',
      kind: 'biobank',
      version: 1,
    });
    // Database time of the same transaction: equal to the row's own created_at default.
    const { rows: inst } = await t.sql.query<{ created_at: Date }>(
      'select created_at from institution where id = $1',
      [created.id],
    );
    expect(row.recorded_at.getTime()).toBe(inst[0]!.created_at.getTime());
  });

  it('leaves no audit row when the transaction that wrote it rolls back', async () => {
    const ctx = systemCtx(t.c);
    const entityId = `rolled-back-${randomBytes(4).toString('hex')}`;
    await expect(
      inTransaction(t.c.db, ctx, async (tx) => {
        await recordAudit(tx, ctx, {
          action: 'testAction',
          entityType: 'institution' as const,
          entityId,
          institutionId: null,
          after: { ok: true },
        });
        // Inside the transaction the row exists...
        throw new Error('the change failed after auditing');
      }),
    ).rejects.toThrow('the change failed after auditing');
    // ...and after the rollback it does not.
    expect(await auditRows('entity_id = $1 or request_id = $2', [entityId, ctx.requestId])).toEqual([]);
  });

  it('leaves neither the change nor its audit row when a REST request fails at commit after auditing', async () => {
    const requestId = `fail-at-commit-${randomBytes(4).toString('hex')}`;
    // A deferred constraint trigger fails the COMMIT of exactly this request, after the service
    // has written the institution and its audit row.
    await t.sql.query(`
      create or replace function test_fail_at_commit() returns trigger language plpgsql as $$
      begin raise exception 'injected failure at commit'; end $$`);
    await t.sql.query(`
      create constraint trigger audit_fail_at_commit after insert on audit_log
      deferrable initially deferred for each row
      when (new.request_id = '${requestId}') execute function test_fail_at_commit()`);
    try {
      const code = uniqueCode();
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/institutions',
        headers: { ...bearer(operator.keys.admin), 'x-request-id': requestId },
        payload: { code, name: 'Never Committed', kind: 'biobank' },
      });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toMatchObject({ code: 'INTERNAL', requestId });
      const { rowCount } = await t.sql.query('select 1 from institution where code = $1', [code]);
      expect(rowCount).toBe(0);
      expect(await auditRows('request_id = $1', [requestId])).toEqual([]);
    } finally {
      await t.sql.query('drop trigger audit_fail_at_commit on audit_log');
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit_log even on a superuser connection', async () => {
    const { rows: who } = await t.sql.query<{ rolsuper: boolean }>(
      'select rolsuper from pg_roles where rolname = current_user',
    );
    expect(who[0]?.rolsuper).toBe(true);
    const [row] = await auditRows('true', []);
    expect(row).toBeDefined();
    const refused = { code: '42501', message: expect.stringContaining('append-only') as unknown };
    await expect(
      t.sql.query(`update audit_log set action = 'tampered' where id = $1`, [row!.id]),
    ).rejects.toMatchObject(refused);
    await expect(t.sql.query('delete from audit_log where id = $1', [row!.id])).rejects.toMatchObject(
      refused,
    );
    await expect(t.sql.query('truncate audit_log')).rejects.toMatchObject(refused);
    const [again] = await auditRows('id = $1', [row!.id]);
    expect(again).toEqual(row);
  });

  it('redacts webhook secrets and API key token hashes in before and after', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin'] });
    const set = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${institution.id}`,
      headers: { ...bearer(keys.admin), 'if-match': 'W/"1"' },
      payload: { webhookUrl: 'https://hooks.example.org/biobank' },
    });
    expect(set.statusCode).toBe(200);
    const firstSecret = set.json<{ webhookSecret: string }>().webhookSecret;
    expect(firstSecret).toMatch(/^whsec_/);
    const rotate = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${institution.id}?rotateWebhookSecret=true`,
      headers: { ...bearer(keys.admin), 'if-match': 'W/"2"' },
      payload: {},
    });
    expect(rotate.statusCode).toBe(200);
    const secondSecret = rotate.json<{ webhookSecret: string }>().webhookSecret;

    const updates = await auditRows('entity_id = $1 and action = $2', [institution.id, 'updateInstitution']);
    expect(updates).toHaveLength(2);
    expect(updates[0]!.before).toMatchObject({ webhookSecret: null });
    expect(updates[0]!.after).toMatchObject({
      webhookUrl: 'https://hooks.example.org/biobank',
      webhookSecret: '[redacted]',
    });
    expect(updates[1]!.before).toMatchObject({ webhookSecret: '[redacted]' });
    expect(updates[1]!.after).toMatchObject({ webhookSecret: '[redacted]' });

    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(keys.admin),
      payload: { name: 'scanner 3', role: 'technician' },
    });
    expect(created.statusCode).toBe(201);
    const { id, token } = created.json<{ id: string; token: string }>();
    const revoked = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${id}/revoke`,
      headers: bearer(keys.admin),
    });
    expect(revoked.statusCode).toBe(200);
    const keyRows = await auditRows('entity_type = $1 and entity_id = $2', ['api_key', id]);
    expect(keyRows.map((r) => r.action)).toEqual(['createApiKey', 'revokeApiKey']);
    expect(keyRows[0]!.after).toMatchObject({ id, tokenHash: '[redacted]' });
    expect(keyRows[1]!.before).toMatchObject({ tokenHash: '[redacted]' });
    expect(keyRows[1]!.after).toMatchObject({ tokenHash: '[redacted]' });

    // Nowhere in the trail, in any form.
    const { rows } = await t.sql.query<{ text: string }>(
      "select coalesce(before::text, '') || coalesce(after::text, '') as text from audit_log where entity_id in ($1, $2)",
      [institution.id, id],
    );
    const trail = rows.map((r) => r.text).join('\n');
    for (const secret of [firstSecret, secondSecret, token, hashToken(token)])
      expect(trail).not.toContain(secret);
  });
});

describe('before and after of a change', () => {
  it('stores after exactly as given, whether it travels whole or as the keys it changes', async () => {
    const ctx = systemCtx(t.c);
    const id = (n: string) => `shape-${n}-${randomBytes(4).toString('hex')}`;
    const at = new Date('2026-01-02T03:04:05.678Z');
    const before = {
      status: 'available',
      holds: [],
      quality: { a260a280: 1.8 },
      containerId: 'box-a',
      positionRow: 1,
      updatedAt: at,
      note: null,
      tokenHash: 'abc',
    };
    const cases: [string, unknown, unknown][] = [
      // Same keys, some values changed: dates and documents equal in value but not the same objects.
      [
        id('changed'),
        before,
        {
          ...before,
          quality: { a260a280: 1.8 },
          updatedAt: new Date(at.getTime()),
          containerId: 'box-b',
          positionRow: null,
          holds: ['QUARANTINE'],
          tokenHash: 'def',
        },
      ],
      [id('unchanged'), before, { ...before }],
      // A key on one side only, undefined on one side, not records: after travels whole.
      [id('key-added'), before, { ...before, extra: 1 }],
      [id('key-dropped'), { ...before, gone: 2 }, before],
      [id('undefined'), before, { ...before, note: undefined }],
      [id('no-before'), undefined, { ok: true }],
      [id('no-after'), before, undefined],
      [id('array'), [1, 2], [1, 3]],
    ];
    await inTransaction(t.c.db, ctx, (tx) =>
      recordAudit(
        tx,
        ctx,
        ...cases.map(([entityId, b, a]) => ({
          action: 'testShape',
          entityType: 'institution' as const,
          entityId,
          institutionId: null,
          before: b,
          after: a,
        })),
      ),
    );
    const stored = await auditRows("action = 'testShape' and entity_id = any($1)", [cases.map((c) => c[0])]);
    // What a JSON round trip of the value makes of it, with the secret redacted.
    const asJson = (v: unknown): unknown =>
      v === undefined
        ? null
        : (JSON.parse(
            JSON.stringify(v, (k, x: unknown) => (k === 'tokenHash' && x != null ? '[redacted]' : x)),
          ) as unknown);
    expect(stored.map((r) => [r.entity_id, r.before, r.after])).toEqual(
      cases.map(([entityId, b, a]) => [entityId, asJson(b), asJson(a)]),
    );
  });
});

describe('GET /v1/audit', () => {
  let home: Awaited<ReturnType<typeof makeInstitution>>;
  let other: Awaited<ReturnType<typeof makeInstitution>>;

  beforeAll(async () => {
    home = await makeInstitution(t, { roles: ['admin', 'manager', 'technician', 'partner'] });
    other = await makeInstitution(t, { roles: ['admin'] });
    for (let v = 1; v <= 5; v++) {
      const res = await rename(home.institution.id, home.keys.admin, v, `Renamed ${v}`);
      expect(res.statusCode).toBe(200);
    }
    const res = await rename(other.institution.id, other.keys.admin, 1, 'Other renamed');
    expect(res.statusCode).toBe(200);
  });

  it.each(['admin', 'manager'] as const)(
    "pages an entity's trail newest first without duplicates or gaps for the %s role",
    async (role) => {
      const entity = { entityType: 'institution', entityId: home.institution.id };
      const expected = (
        await t.sql.query<{ id: number }>(
          'select id from audit_log where entity_type = $1 and entity_id = $2 order by id desc',
          ['institution', home.institution.id],
        )
      ).rows.map((r) => Number(r.id));
      expect(expected).toHaveLength(6); // createInstitution and five renames

      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await listAudit(home.keys[role], { ...entity, limit: 4, ...(cursor ? { cursor } : {}) });
        expect(res.statusCode).toBe(200);
        const page: AuditPage = res.json<AuditPage>();
        expect(page.items.length).toBeLessThanOrEqual(4);
        seen.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);

      expect(pages).toBe(2);
      expect(seen).toEqual(expected);
      const first = await listAudit(home.keys[role], { ...entity, limit: 1 });
      expect(first.json<AuditPage>().items[0]).toMatchObject({ action: 'updateInstitution' });
    },
  );

  it('refuses an entity type it does not record (a typo) with 400, never an empty page', async () => {
    const res = await listAudit(home.keys.admin, { entityType: 'institutionn' });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [expect.objectContaining({ field: 'querystring.entityType' })],
    });
  });

  it('pages exactly when the last page is full, then answers an empty page with no cursor', async () => {
    const entity = { entityType: 'institution', entityId: home.institution.id };
    const one = await listAudit(home.keys.admin, { ...entity, limit: 3 });
    const p1 = one.json<AuditPage>();
    expect(p1.items).toHaveLength(3);
    expect(p1.nextCursor).not.toBeNull();
    const two = await listAudit(home.keys.admin, { ...entity, limit: 3, cursor: p1.nextCursor! });
    const p2 = two.json<AuditPage>();
    expect(p2.items).toHaveLength(3);
    expect(p2.nextCursor).toBeNull();
    expect(Math.max(...p2.items.map((i) => i.id))).toBeLessThan(Math.min(...p1.items.map((i) => i.id)));
  });

  it.each(['technician', 'partner'] as const)('answers 403 to the %s role', async (role) => {
    const res = await listAudit(home.keys[role], {
      entityType: 'institution',
      entityId: home.institution.id,
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN' });
  });

  it("never shows another institution's rows", async () => {
    const foreign = await listAudit(other.keys.admin, {
      entityType: 'institution',
      entityId: home.institution.id,
    });
    expect(foreign.statusCode).toBe(200);
    expect(foreign.json<AuditPage>().items).toEqual([]);

    // Another institution's cursor leads only into the caller's own trail.
    const homePage = (
      await listAudit(home.keys.admin, { entityType: 'institution', entityId: home.institution.id, limit: 1 })
    ).json<AuditPage>();
    const all = await listAudit(other.keys.admin, { limit: 500, cursor: homePage.nextCursor! });
    const items = all.json<AuditPage>().items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.institutionId === other.institution.id)).toBe(true);
    const { rows } = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from audit_log where institution_id = $1 and id < $2',
      [other.institution.id, homePage.items[0]!.id],
    );
    expect(items).toHaveLength(rows[0]!.n);
  });

  it.each([
    ['not base64 JSON', '!!!'],
    ['a string key', Buffer.from(JSON.stringify('abc')).toString('base64url')],
    ['a negative key', Buffer.from(JSON.stringify(-5)).toString('base64url')],
  ])('refuses a cursor that is %s with 400 INVALID_CURSOR', async (_what, cursor) => {
    const res = await listAudit(home.keys.admin, { cursor });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
