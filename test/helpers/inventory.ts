import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import { bearer, makeInstitution, type TestApp } from './test-app.js';

// Inventory fixtures for the integration tests: everything is created through the REST API, as a
// lab would, so the rows carry their custody events and audit rows like production ones.

export interface SpecimenBody {
  id: string;
  barcode: string;
  type: string;
  lineage: string;
  parentId: string | null;
  status: string;
  holds: string[];
  availableQuantity: number;
  initialQuantity: number;
  freezeThawCount: number;
  location: { containerId: string; containerBarcode: string; position: string | null; path: string } | null;
  version: number;
}

export interface ContainerBody {
  id: string;
  kind: string;
  barcode: string;
  parentId: string | null;
  slot: string | null;
  path: string;
  allowedTypes: string[] | null;
  version: number;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; message: string; code?: string }[];
  [extra: string]: unknown;
}

export const uid = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex').toUpperCase()}`;

export type Lab = Awaited<ReturnType<typeof makeLab>>;

/** An institution with one key per role and a request helper acting as one of them. */
export async function makeLab(t: TestApp) {
  const { institution, keys } = await makeInstitution(t);
  const call = (
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    payload?: unknown,
    opts: { role?: Role; headers?: Record<string, string> } = {},
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: { ...bearer(keys[opts.role ?? 'manager']), ...opts.headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const post = (url: string, payload: unknown, opts?: { role?: Role; headers?: Record<string, string> }) =>
    call('POST', url, payload, opts);
  const get = (url: string, opts?: { role?: Role }) => call('GET', url, undefined, opts);

  async function container(input: Record<string, unknown>): Promise<ContainerBody> {
    const res = await post('/v1/containers', { barcode: uid(String(input.kind).toUpperCase()), ...input });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<ContainerBody>();
  }

  /** A freezer with one 4 x 4 rack. */
  async function freezerWithRack() {
    const freezer = await container({ kind: 'freezer', temperatureC: -80 });
    const rack = await container({ kind: 'rack', parentId: freezer.id, grid: { rows: 4, cols: 4 } });
    return { freezer, rack };
  }

  let rackCache: Promise<{ rack: ContainerBody; next: number }> | undefined;
  /** A box in the next free slot of a shared rack (a new freezer and rack every 16 boxes). */
  async function box(
    grid: { rows: number; cols: number; scheme?: string; fillOrder?: string } = { rows: 9, cols: 9 },
    extra: Record<string, unknown> = {},
  ): Promise<ContainerBody> {
    rackCache ??= freezerWithRack().then(({ rack }) => ({ rack, next: 0 }));
    let holder = await rackCache;
    if (holder.next >= 16) {
      rackCache = freezerWithRack().then(({ rack }) => ({ rack, next: 0 }));
      holder = await rackCache;
    }
    const n = holder.next++;
    const slot = `${String.fromCharCode(65 + Math.floor(n / 4))}${(n % 4) + 1}`;
    return container({ kind: 'box', parentId: holder.rack.id, slot, grid, ...extra });
  }

  async function register(input: Record<string, unknown> = {}): Promise<SpecimenBody> {
    const res = await post('/v1/specimens', {
      barcode: uid('S'),
      type: 'whole_blood',
      quantity: 5,
      ...input,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<SpecimenBody>();
  }

  async function action(id: string, path: string, payload: unknown = {}, role?: Role): Promise<SpecimenBody> {
    const res = await post(`/v1/specimens/${id}/${path}`, payload, { role });
    expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
    return res.json<SpecimenBody>();
  }

  /** Rows this institution holds in the tables a write touches. */
  async function counts() {
    const { rows } = await t.sql.query<{ specimen: number; custody: number; audit: number }>(
      `select (select count(*)::int from specimen where institution_id = $1) as specimen,
              (select count(*)::int from custody_event where institution_id = $1) as custody,
              (select count(*)::int from audit_log where institution_id = $1) as audit`,
      [institution.id],
    );
    return rows[0]!;
  }

  return { institution, keys, call, post, get, container, freezerWithRack, box, register, action, counts };
}

/** A collection protocol of `lab` with one consent tier (GENETIC_RESEARCH). */
export async function makeProtocol(lab: Lab): Promise<{ id: string }> {
  const res = await lab.post('/v1/protocols', {
    code: uid('P'),
    title: 'Cohort',
    ethicsApprovalRef: 'EC-1',
    consentTiers: ['GENETIC_RESEARCH'],
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>();
}

/** Asserts a problem+json answer with the status and code, and returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string): ProblemBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<ProblemBody>();
  expect(body.code, res.body).toBe(code);
  return body;
}

/** The fields a problem names. */
export const fieldsOf = (p: ProblemBody) => (p.errors ?? []).map((e) => e.field);

/** Custody rows of a specimen straight from the ledger table. */
export async function custodyRows(t: TestApp, specimenId: string) {
  const { rows } = await t.sql.query<{
    id: number;
    seq: number;
    type: string;
    from_container_id: string | null;
    from_position: string | null;
    to_container_id: string | null;
    to_position: string | null;
    quantity_change: string | null;
    prev_hash: string | null;
    hash: string;
    details: Record<string, unknown>;
  }>('select * from custody_event where specimen_id = $1 order by seq', [specimenId]);
  return rows;
}

export async function specimenRow(t: TestApp, id: string) {
  const { rows } = await t.sql.query<{
    id: string;
    status: string;
    version: number;
    holds: string[];
    container_id: string | null;
    position_row: number | null;
    position_col: number | null;
    available_quantity: string;
    freeze_thaw_count: number;
    custody_seq: number;
    custody_head: string | null;
  }>('select * from specimen where id = $1', [id]);
  return rows[0]!;
}
