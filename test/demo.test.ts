import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/seed/demo.js';
import { bearer, createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const counts = async () =>
  (
    await t.sql.query<{
      institutions: number;
      keys: number;
      specimens: number;
      events: number;
      consents: number;
    }>(
      `select (select count(*)::int from institution) as institutions, (select count(*)::int from api_key) as keys,
              (select count(*)::int from specimen) as specimens, (select count(*)::int from custody_event) as events,
              (select count(*)::int from consent) as consents`,
    )
  ).rows[0]!;

describe('demo data', () => {
  it('seeds institutions, one working key per role and a small inventory, and a second run changes nothing', async () => {
    const first = await seedDemo(t.c, systemCtx(t.c));
    const after = await counts();
    expect(after).toMatchObject({ institutions: 3, keys: 5, specimens: 15, consents: 3 });
    expect(first.keys.map((k) => k.role).sort()).toEqual([
      'admin',
      'integration',
      'manager',
      'partner',
      'technician',
    ]);

    const second = await seedDemo(t.c, systemCtx(t.c));
    expect(second.keys).toEqual(first.keys);
    expect(await counts()).toEqual(after);

    const technician = first.keys.find((k) => k.role === 'technician')!.token;
    const scan = await t.app.inject({
      method: 'GET',
      url: '/v1/specimens/by-barcode/DEMO-1-EDTA',
      headers: bearer(technician),
    });
    expect(scan.statusCode).toBe(200);
    expect(scan.json()).toMatchObject({
      type: 'whole_blood',
      location: { path: 'Freezer F-01 / Rack R3 / Box BX-0042 / A1' },
      permittedUses: ['internal_research', 'genetic_research', 'external_sharing'],
    });
    const ids = await t.sql.query<{ id: string }>('select id from specimen');
    for (const { id } of ids.rows) {
      const v = await t.app.inject({
        method: 'GET',
        url: `/v1/specimens/${id}/custody/verify`,
        headers: bearer(technician),
      });
      expect(v.json<{ valid: boolean }>().valid).toBe(true);
    }
    const partner = first.keys.find((k) => k.role === 'partner')!.token;
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(partner),
      payload: { query: '{ viewer { role institution { code } } }' },
    });
    expect(gql.json()).toEqual({ data: { viewer: { role: 'partner', institution: { code: 'PH' } } } });
    // The partner's first calls: the agreement it holds, then the catalogue it opens.
    const agreements = await t.app.inject({
      method: 'GET',
      url: '/v1/agreements?side=requester',
      headers: bearer(partner),
    });
    expect(agreements.json<{ items: { uses: string[] }[] }>().items).toMatchObject([
      { uses: ['genetic_research', 'external_sharing'] },
    ]);
    const catalogue = await t.app.inject({
      method: 'GET',
      url: '/v1/catalogue?use=external_sharing&groupBy=diseaseArea',
      headers: bearer(partner),
    });
    expect(catalogue.statusCode, catalogue.body).toBe(200);
    expect(catalogue.json()).toMatchObject({
      providers: [{ code: 'TMC' }],
      shareable: { samples: '<5', donors: '<5' },
    });
    // The README's import walk-through: each template's example row passes a dry run on the demo.
    const integration = first.keys.find((k) => k.role === 'integration')!.token;
    for (const kind of ['specimens', 'consents']) {
      const template = await t.app.inject({
        method: 'GET',
        url: `/v1/imports/templates/${kind}.csv`,
        headers: bearer(integration),
      });
      const dry = await t.app.inject({
        method: 'POST',
        url: `/v1/imports?kind=${kind}&dryRun=true`,
        headers: { ...bearer(integration), 'content-type': 'text/csv' },
        payload: template.body,
      });
      expect(dry.statusCode, dry.body).toBeLessThan(300);
      expect(dry.json<{ errors: unknown[] }>().errors, `${kind}: ${dry.body}`).toEqual([]);
    }
    expect(second.keys).toEqual(first.keys);
    await seedDemo(t.c, systemCtx(t.c));
    expect(await t.sql.query('select 1 from sharing_agreement')).toMatchObject({ rowCount: 1 });
  });
});
