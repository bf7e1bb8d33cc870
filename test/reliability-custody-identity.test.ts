import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { makeLab, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// ISO 20387 traceability: every custody event that leaves a tube somewhere names that place, and
// says who acted in words a person reads (the key's name, role and institution code as they were),
// covered by the event's hash. Chains recorded before keep verifying in their own hash form.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const { gql } = graphqlRequests(
  () => t,
  () => lab.keys.technician,
);

interface Event {
  seq: number;
  type: string;
  actor: string;
  actorIdentity: { name: string; role: string | null; institutionCode: string | null } | null;
  hashVersion: number;
  fromContainerId: string | null;
  fromPosition: string | null;
  toContainerId: string | null;
  toPosition: string | null;
}

async function chain(id: string): Promise<Event[]> {
  const res = await lab.get(`/v1/specimens/${id}/custody`, { role: 'technician' });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: Event[] }>().items;
}

async function verified(id: string): Promise<{ valid: boolean; firstBreak: { reason: string } | null }> {
  const res = await lab.get(`/v1/specimens/${id}/custody/verify`, { role: 'technician' });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('custody events name the place and the actor', () => {
  it('a plain check-in {} records the position the tube returns to', async () => {
    const box = await lab.box();
    const tube = await lab.register({ containerId: box.id, position: 'B2' });
    await lab.action(tube.id, 'check-out', {}, 'technician');
    await lab.action(tube.id, 'check-in', {}, 'technician');
    const events = await chain(tube.id);
    const checkedIn = events.find((e) => e.type === 'checked_in');
    expect(checkedIn).toMatchObject({
      fromContainerId: box.id,
      fromPosition: 'B2',
      toContainerId: box.id,
      toPosition: 'B2',
    });
    expect((await verified(tube.id)).valid).toBe(true);
  });

  it("each event carries the key's name, role and institution code, in REST and GraphQL", async () => {
    const box = await lab.box();
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    await lab.action(tube.id, 'check-out', {}, 'technician');
    const events = await chain(tube.id);
    const code = lab.institution.code;
    expect(events[0]).toMatchObject({
      hashVersion: 2,
      actorIdentity: { name: 'manager key', role: 'manager', institutionCode: code },
    });
    expect(events.at(-1)).toMatchObject({
      type: 'checked_out',
      hashVersion: 2,
      actorIdentity: { name: 'technician key', role: 'technician', institutionCode: code },
    });
    const { data, errors } = await gql<{
      custody: { type: string; hashVersion: number; actorIdentity: Event['actorIdentity'] }[];
    }>(
      `query ($id: ID!) { custody(specimenId: $id) { type hashVersion actorIdentity { name role institutionCode } } }`,
      { id: tube.id },
    );
    expect(errors).toBeUndefined();
    expect(data?.custody.at(-1)).toEqual({
      type: 'checked_out',
      hashVersion: 2,
      actorIdentity: { name: 'technician key', role: 'technician', institutionCode: code },
    });
  });

  it('the hash covers the identity: rewriting who acted breaks the chain at that event', async () => {
    const tube = await lab.register();
    await lab.action(tube.id, 'receive', {}, 'technician');
    expect((await verified(tube.id)).valid).toBe(true);
    const client = await t.sql.connect();
    try {
      await client.query('begin');
      await client.query('set local session_replication_role = replica');
      await client.query(
        `update custody_event set actor_name = 'someone else' where specimen_id = $1 and seq = 2`,
        [tube.id],
      );
      await client.query('commit');
    } finally {
      client.release();
    }
    const v = await verified(tube.id);
    expect(v.valid).toBe(false);
    expect(v.firstBreak).toMatchObject({ seq: 2, reason: 'hash_mismatch' });
  });

  it('the database refuses an event hashed with an identity it does not name', async () => {
    const tube = await lab.register();
    await expect(
      t.sql.query(
        `insert into custody_event (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
           hash_version, request_id, hash)
         values ($1, $2, 99, 'moved', now(), now(), 'system:x', 2, 'r', 'h')`,
        [tube.id, lab.institution.id],
      ),
    ).rejects.toThrow(/custody_actor_identity/);
  });
});
