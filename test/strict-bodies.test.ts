import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, fieldsOf, makeLab, makeProtocol, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// A misspelt member of a REST body is a 400 naming it, and the request changes nothing: it used to
// be dropped, and the request succeeded without it (`"aply": true` answered a rack scan that
// applied nothing; `"colectedAt"` registered a tube without its collection time).

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

describe('REST bodies refuse members they do not know', () => {
  it('refuses a misspelt member of a registration, naming it, and registers nothing', async () => {
    const before = await lab.counts();
    const res = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'serum',
      quantity: 1,
      colectedAt: '2026-03-02T08:15:00Z',
    });
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.errors).toEqual([
      expect.objectContaining({
        field: 'body.colectedAt',
        message: 'unknown field',
        code: 'unrecognized_keys',
      }),
    ]);
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses a misspelt member of an LIS upsert (PUT) and writes nothing', async () => {
    const before = await lab.counts();
    const res = await t.app.inject({
      method: 'PUT',
      url: `/v1/specimens/by-external-id/LIS/${uid('ACC')}`,
      headers: { authorization: `Bearer ${lab.keys.integration}` },
      payload: { barcode: uid('S'), type: 'serum', quantity: 2, colectedAt: '2026-03-02T08:15:00Z' },
    });
    expect(fieldsOf(expectProblem(res, 400, 'VALIDATION_FAILED'))).toEqual(['body.colectedAt']);
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses `aply` on a rack scan, and a misspelt member of one reading, naming the reading', async () => {
    const box = await lab.box({ rows: 2, cols: 2 });
    const tube = await lab.register();
    const before = await lab.counts();
    const typo = await lab.post(`/v1/containers/${box.id}/rack-scan`, {
      readings: [{ position: 'A1', barcode: tube.barcode }],
      aply: true,
    });
    expect(fieldsOf(expectProblem(typo, 400, 'VALIDATION_FAILED'))).toEqual(['body.aply']);
    const deep = await lab.post(`/v1/containers/${box.id}/rack-scan`, {
      readings: [
        { position: 'A1', barcode: tube.barcode },
        { position: 'A2', barcod: null },
      ],
      apply: true,
    });
    // The reading's own missing barcode is named too: zod's issues come alongside.
    expect(fieldsOf(expectProblem(deep, 400, 'VALIDATION_FAILED'))).toContain('body.readings.1.barcod');
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses `usee` on a check-out instead of checking out for the default use', async () => {
    const tube = await lab.register();
    const res = await lab.post(`/v1/specimens/${tube.id}/check-out`, { usee: 'external_sharing' });
    expect(fieldsOf(expectProblem(res, 400, 'VALIDATION_FAILED'))).toEqual(['body.usee']);
    const after = await lab.get(`/v1/specimens/${tube.id}`);
    expect(after.json<{ status: string; version: number }>()).toMatchObject({
      status: tube.status,
      version: tube.version,
    });
  });

  it('refuses a misspelt member of a participant and of a container', async () => {
    const protocol = await makeProtocol(lab);
    const participant = await lab.post('/v1/participants', {
      protocolId: protocol.id,
      protocolParticipantId: uid('D'),
      birthyear: 1970,
    });
    expect(fieldsOf(expectProblem(participant, 400, 'VALIDATION_FAILED'))).toEqual(['body.birthyear']);
    const container = await lab.post('/v1/containers', {
      kind: 'freezer',
      barcode: uid('F'),
      temperatureC: -80,
      tempC: -80,
    });
    expect(fieldsOf(expectProblem(container, 400, 'VALIDATION_FAILED'))).toEqual(['body.tempC']);
  });

  it('says so in the OpenAPI document: each object of a REST body is closed', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>
      >;
    }>();
    interface Schema {
      additionalProperties?: unknown;
      properties?: Record<string, Schema & { items?: Schema }>;
    }
    const body = (path: string, method = 'post') =>
      doc.paths[path]![method]!.requestBody!.content['application/json']!.schema;
    const scan = body('/v1/containers/{id}/rack-scan');
    expect(scan.additionalProperties).toBe(false);
    expect(scan.properties!.readings!.items!.additionalProperties).toBe(false);
    expect(body('/v1/specimens').additionalProperties).toBe(false);
    expect(body('/v1/specimens/by-external-id/{system}/{value}', 'put').additionalProperties).toBe(false);
  });
});
