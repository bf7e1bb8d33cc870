import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import { fhirSchemaErrors } from './fhir-schema.js';
import { makeProtocol, uid, type Lab } from './inventory.js';
import type { TestApp } from './test-app.js';

// Requests to /fhir/R4 for the FHIR test files. Every answer is checked on the way: it is
// application/fhir+json and a valid FHIR R4 resource (the official JSON schema), errors included.

export const FHIR = '/fhir/R4';
export const BARCODE_SYSTEM = 'https://biobank.dev/fhir/sid/barcode';
export const LIS = 'urn:oid:1.2.276.0.76.4.17';
export const OUR_TYPES = 'https://biobank.dev/fhir/CodeSystem/specimen-type';

export interface FhirAnswer<T = Record<string, unknown>> {
  res: LightMyRequestResponse;
  status: number;
  body: T;
}

export interface Outcome {
  resourceType: 'OperationOutcome';
  issue: {
    severity: string;
    code: string;
    details: { coding: { code: string }[]; text: string };
    expression?: string[];
  }[];
}

/** A FHIR request as `role` of `lab` (no key at all with `role: null`), its answer checked. */
export async function fhir<T = Record<string, unknown>>(
  t: TestApp,
  lab: Lab,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH',
  url: string,
  opts: { body?: unknown; raw?: string; role?: Role | null; headers?: Record<string, string> } = {},
): Promise<FhirAnswer<T>> {
  const role = opts.role === undefined ? 'integration' : opts.role;
  const res = await t.app.inject({
    method,
    url: `${FHIR}${url}`,
    headers: {
      ...(role ? { authorization: `Bearer ${lab.keys[role]}` } : {}),
      ...(opts.body !== undefined || opts.raw !== undefined
        ? { 'content-type': 'application/fhir+json' }
        : {}),
      ...opts.headers,
    },
    ...(opts.raw !== undefined
      ? { payload: opts.raw }
      : opts.body !== undefined
        ? { payload: JSON.stringify(opts.body) }
        : {}),
  });
  expect(res.headers['content-type'], res.body).toBe('application/fhir+json; charset=utf-8');
  const body = res.json<T>();
  expect(fhirSchemaErrors(body), res.body).toEqual([]);
  return { res, status: res.statusCode, body };
}

/** Asserts an OperationOutcome with the status and stable code; returns it. */
export function expectOutcome(a: FhirAnswer<unknown>, status: number, code: string): Outcome {
  expect(a.status, a.res.body).toBe(status);
  const o = a.body as Outcome;
  expect(o.resourceType).toBe('OperationOutcome');
  expect(o.issue[0]?.details.coding[0]?.code, a.res.body).toBe(code);
  return o;
}

/** A FHIR Specimen as an LIS would send it: its accession number, the tube barcode, type, quantity. */
export function lisSpecimen(over: Record<string, unknown> = {}) {
  return {
    resourceType: 'Specimen',
    accessionIdentifier: { system: LIS, value: uid('ACC') },
    identifier: [{ system: BARCODE_SYSTEM, value: uid('T') }],
    type: { coding: [{ system: 'http://snomed.info/sct', code: '119364003', display: 'Serum specimen' }] },
    collection: {
      collectedDateTime: '2026-03-04T06:45:00+01:00',
      quantity: { value: 2.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
    },
    ...over,
  };
}

/** A protocol and a donor of `lab` (with an MRN, which FHIR must never show). */
export async function donor(lab: Lab, mrn = uid('MRN')) {
  const protocol = await makeProtocol(lab);
  const d = await lab.post('/v1/participants', {
    protocolId: protocol.id,
    protocolParticipantId: uid('D'),
    sex: 'female',
    birthYear: 1970,
    mrn,
  });
  expect(d.statusCode, d.body).toBe(201);
  return { protocolId: protocol.id, participantId: d.json<{ id: string }>().id, mrn };
}

/** Rows this institution holds in the tables a write touches, the change feed's pending ones too. */
export async function writes(t: TestApp, lab: Lab) {
  const { rows } = await t.sql.query<{ specimen: number; custody: number; audit: number; versions: number }>(
    `select (select count(*)::int from specimen where institution_id = $1) as specimen,
            (select count(*)::int from custody_event where institution_id = $1) as custody,
            (select count(*)::int from audit_log where institution_id = $1) as audit,
            (select coalesce(sum(version), 0)::int from specimen where institution_id = $1) as versions`,
    [lab.institution.id],
  );
  return rows[0]!;
}
