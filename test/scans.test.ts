import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statementsInFlight } from './helpers/graphql.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import {
  custodyRows,
  expectProblem,
  fieldsOf,
  makeLab,
  specimenRow,
  uid,
  type Lab,
  type SpecimenBody,
} from './helpers/inventory.js';

// The bench workflows: a batch of scanner actions committed all or nothing, and a rack scanner
// reading reconciled with the records (and applied as moves when asked).

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const scan = (scans: Record<string, unknown>[]) => lab.post('/v1/scans', { scans }, { role: 'technician' });

/** Status, place and chain length of specimens, to prove a refused batch changed nothing. */
async function snapshot(ids: string[]) {
  const { rows } = await t.sql.query<Record<string, unknown>>(
    `select id, status::text, container_id, position_row, position_col, version, custody_seq, freeze_thaw_count
       from specimen where id = any($1::uuid[]) order by id`,
    [ids],
  );
  return rows;
}

describe('POST /v1/scans', () => {
  it('applies receive, store, move, check-out and check-in in one transaction', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const arriving = await lab.register({ type: 'serum' });
    const toStore = await lab.register({ type: 'plasma' });
    const stored = await lab.register({ containerId: box.id, position: 'A1' });
    const outgoing = await lab.register({ containerId: box.id, position: 'A2' });
    const returning = await lab.register({ containerId: box.id, position: 'A3' });
    await lab.action(returning.id, 'check-out');

    const res = await scan([
      { action: 'receive', barcode: arriving.barcode },
      { action: 'store', barcode: toStore.barcode, containerId: box.id, position: 'b1' },
      { action: 'move', barcode: stored.barcode, containerId: box.id, position: 'C3' },
      { action: 'check_out', barcode: outgoing.barcode },
      { action: 'check_in', barcode: returning.barcode },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json<{ items: SpecimenBody[] }>().items;
    expect(items.map((i) => [i.barcode, i.status, i.location?.position ?? null])).toEqual([
      [arriving.barcode, 'available', null],
      [toStore.barcode, 'available', 'B1'],
      [stored.barcode, 'available', 'C3'],
      [outgoing.barcode, 'in_use', 'A2'],
      [returning.barcode, 'available', 'A3'],
    ]);
    expect(items[4]!.freezeThawCount).toBe(1);
    const types = async (s: SpecimenBody) => (await custodyRows(t, s.id)).map((e) => e.type).slice(-2);
    expect(await types(arriving)).toEqual(['registered', 'received']);
    expect(await types(toStore)).toEqual(['registered', 'stored']);
    expect(await types(stored)).toEqual(['stored', 'moved']);
    expect(await types(outgoing)).toEqual(['stored', 'checked_out']);
    expect(await types(returning)).toEqual(['checked_in', 'thawed']);
  });

  it('refuses the whole batch with per-item errors when one item fails, and changes nothing', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const a = await lab.register();
    const b = await lab.register({ containerId: box.id, position: 'A1' });
    const c = await lab.register();
    const d = await lab.register({ containerId: box.id, position: 'B1' });
    const ids = [a.id, b.id, c.id, d.id];
    const before = await snapshot(ids);
    const counts = await lab.counts();

    const res = await scan([
      { action: 'store', barcode: a.barcode, containerId: box.id, position: 'A2' },
      { action: 'receive', barcode: 'NO-SUCH-TUBE' },
      { action: 'store', barcode: c.barcode, containerId: box.id, position: 'A1' },
      { action: 'check_in', barcode: d.barcode },
      { action: 'move', barcode: b.barcode },
      { action: 'store', barcode: c.barcode, containerId: box.id, position: 'Z9' },
    ]);
    const problem = expectProblem(res, 422, 'BATCH_REJECTED');
    expect(fieldsOf(problem)).toEqual([
      'scans.1.barcode',
      'scans.2.position',
      'scans.3.action',
      'scans.4.containerId',
      'scans.5.barcode',
    ]);
    const codes = (problem.errors ?? []).map((e) => e.code);
    expect(codes).toEqual([
      'SPECIMEN_NOT_FOUND',
      'POSITION_OCCUPIED',
      'INVALID_TRANSITION',
      'CONTAINER_REQUIRED',
      'DUPLICATE_SCAN',
    ]);
    expect(problem.detail).toContain('nothing was changed');
    expect(await snapshot(ids)).toEqual(before);
    expect(await lab.counts()).toEqual(counts);
  });

  it('refuses a position without its container, and a place on a check-out, instead of dropping them', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const a = await lab.register({ containerId: box.id, position: 'A1' });
    const b = await lab.register({ containerId: box.id, position: 'A2' });
    const c = await lab.register({ containerId: box.id, position: 'A3' });
    await lab.action(a.id, 'check-out');
    await lab.action(c.id, 'check-out');
    const before = await snapshot([a.id, b.id, c.id]);
    const res = await scan([
      { action: 'check_in', barcode: a.barcode, position: 'C3' },
      { action: 'check_out', barcode: b.barcode, containerId: box.id },
      { action: 'check_in', barcode: c.barcode, use: 'internal_research' },
    ]);
    const problem = expectProblem(res, 422, 'BATCH_REJECTED');
    expect(problem.errors!.map((e) => [e.field, e.code])).toEqual([
      ['scans.0.containerId', 'CONTAINER_REQUIRED'],
      ['scans.1.containerId', 'VALIDATION_FAILED'],
      ['scans.2.use', 'VALIDATION_FAILED'],
    ]);
    expect(await snapshot([a.id, b.id, c.id])).toEqual(before);

    // Over REST too: check-in, receipt and found with a position alone are 400, nothing changes.
    for (const [id, path] of [
      [a.id, 'check-in'],
      [a.id, 'receive'],
      [a.id, 'mark-found'],
    ] as const) {
      const one = await lab.post(`/v1/specimens/${id}/${path}`, { position: 'C3' }, { role: 'technician' });
      expect(fieldsOf(expectProblem(one, 400, 'CONTAINER_REQUIRED'))).toEqual(['containerId']);
    }
    expect(await snapshot([a.id, b.id, c.id])).toEqual(before);
  });

  it('names a position outside the grid per item', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const a = await lab.register();
    const res = await scan([{ action: 'store', barcode: a.barcode, containerId: box.id, position: 'D1' }]);
    const problem = expectProblem(res, 422, 'BATCH_REJECTED');
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'scans.0.position', code: 'POSITION_OUTSIDE_GRID' }),
    ]);
  });

  it('keeps a checked-out tube’s position: another tube cannot take it in the same batch', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const leaving = await lab.register({ containerId: box.id, position: 'A1' });
    const newcomer = await lab.register();
    const before = await snapshot([leaving.id, newcomer.id]);
    const res = await scan([
      { action: 'check_out', barcode: leaving.barcode },
      { action: 'store', barcode: newcomer.barcode, containerId: box.id, position: 'A1' },
    ]);
    const problem = expectProblem(res, 422, 'BATCH_REJECTED');
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'scans.1.position', code: 'POSITION_OCCUPIED' }),
    ]);
    expect(await snapshot([leaving.id, newcomer.id])).toEqual(before);
  });

  it('lets two tubes trade places in one batch', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const x = await lab.register({ containerId: box.id, position: 'A1' });
    const y = await lab.register({ containerId: box.id, position: 'A2' });
    const res = await scan([
      { action: 'move', barcode: x.barcode, containerId: box.id, position: 'A2' },
      { action: 'move', barcode: y.barcode, containerId: box.id, position: 'A1' },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect((await specimenRow(t, x.id)).position_col).toBe(2);
    expect((await specimenRow(t, y.id)).position_col).toBe(1);
  });

  it('writes nothing for a store or move to where the tube already is, and still records a move elsewhere', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const x = await lab.register({ containerId: box.id, position: 'A1' });
    const y = await lab.register({ containerId: box.id, position: 'B1' });
    const z = await lab.register({ containerId: box.id, position: 'C1' });
    const counts = await lab.counts();
    const before = await snapshot([x.id, y.id]);
    const again = await scan([
      { action: 'store', barcode: x.barcode, containerId: box.id, position: 'a1' },
      { action: 'move', barcode: y.barcode, containerId: box.id, position: 'B1' },
      { action: 'move', barcode: z.barcode, containerId: box.id, position: 'C2' },
    ]);
    expect(again.statusCode, again.body).toBe(200);
    const items = again.json<{ items: SpecimenBody[] }>().items;
    expect(items.map((i) => [i.barcode, i.version, i.location?.position])).toEqual([
      [x.barcode, x.version, 'A1'],
      [y.barcode, y.version, 'B1'],
      [z.barcode, z.version + 1, 'C2'],
    ]);
    expect(await snapshot([x.id, y.id])).toEqual(before);
    expect((await lab.counts()).custody).toBe(counts.custody + 1);
    expect((await custodyRows(t, z.id)).at(-1)?.type).toBe('moved');
  });
});

interface RackReport {
  containerId: string;
  applied: boolean;
  matched: { position: string; barcode: string; specimenId: string }[];
  movedIn: { position: string; barcode: string; specimenId: string; from: string | null }[];
  unknown: { position: string; barcode: string }[];
  missing: { position: string; barcode: string; specimenId: string }[];
  errors: { position: string; message: string }[];
}

const rackScan = (boxId: string, body: Record<string, unknown>) =>
  lab.post(`/v1/containers/${boxId}/rack-scan`, body, { role: 'technician' });

/** A full reading of a 3 x 3 box: positions not named read as empty. */
const reading = (tubes: Record<string, string>) =>
  ['A1', 'A2', 'A3', 'B1', 'B2', 'B3', 'C1', 'C2', 'C3'].map((position) => ({
    position,
    barcode: tubes[position] ?? null,
  }));

describe('rack scan reconciliation', () => {
  it('reports matched, moved in, unknown and missing tubes, and applies the moves', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const other = await lab.box({ rows: 3, cols: 3 });
    const matched = await lab.register({ containerId: box.id, position: 'A1' });
    const missing = await lab.register({ containerId: box.id, position: 'A2' });
    const out = await lab.register({ containerId: box.id, position: 'A3' });
    await lab.action(out.id, 'check-out');
    const stray = await lab.register({ containerId: other.id, position: 'C3' });
    const unknown = uid('UNREG');
    const body = { readings: reading({ A1: matched.barcode, B2: stray.barcode, C1: unknown }) };

    const ids = [matched.id, missing.id, out.id, stray.id];
    const before = await snapshot(ids);
    const counts = await lab.counts();
    const dry = await rackScan(box.id, body);
    expect(dry.statusCode, dry.body).toBe(200);
    const report = dry.json<RackReport>();
    expect(report).toEqual({
      containerId: box.id,
      applied: false,
      matched: [{ position: 'A1', barcode: matched.barcode, specimenId: matched.id }],
      movedIn: [{ position: 'B2', barcode: stray.barcode, specimenId: stray.id, from: stray.location!.path }],
      unknown: [{ position: 'C1', barcode: unknown }],
      // The checked-out tube is away by design, not missing.
      missing: [{ position: 'A2', barcode: missing.barcode, specimenId: missing.id }],
      errors: [],
    });
    expect(await snapshot(ids)).toEqual(before);
    expect(await lab.counts()).toEqual(counts);

    const applied = await rackScan(box.id, { ...body, apply: true });
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json<RackReport>()).toEqual({ ...report, applied: true });
    const row = await specimenRow(t, stray.id);
    expect(row).toMatchObject({ container_id: box.id, position_row: 2, position_col: 2 });
    expect((await custodyRows(t, stray.id)).at(-1)).toMatchObject({
      type: 'moved',
      from_container_id: other.id,
      from_position: 'C3',
      to_container_id: box.id,
      to_position: 'B2',
      details: { source: 'rack-scan' },
    });
    // Only the move was recorded: the matched and missing tubes are untouched, nothing was created.
    const after = await snapshot([matched.id, missing.id, out.id]);
    expect(after).toEqual(before.filter((r) => r.id !== stray.id));
    expect((await lab.counts()).specimen).toBe(counts.specimen);
  });

  it('applies a rack scan in eleven round trips, however many tubes it moves', async () => {
    const sent: Record<number, string[]> = {};
    for (const n of [2, 8]) {
      const box = await lab.box({ rows: 3, cols: 3 });
      const other = await lab.box({ rows: 3, cols: 3 });
      const positions = ['A1', 'A2', 'A3', 'B1', 'B2', 'B3', 'C1', 'C2', 'C3'].slice(0, n);
      const tubes = [];
      for (const position of positions) tubes.push(await lab.register({ containerId: other.id, position }));
      const body = { readings: reading(Object.fromEntries(tubes.map((s, i) => [positions[i]!, s.barcode]))) };
      // A dry run first, so the technician's key is cached and its lookup not counted.
      expect((await rackScan(box.id, body)).statusCode).toBe(200);
      let res: Awaited<ReturnType<typeof rackScan>> | undefined;
      sent[n] = (
        await statementsInFlight(t.c.database.pool, async () => {
          res = await rackScan(box.id, { ...body, apply: true });
        })
      ).sent;
      expect(res!.statusCode, res!.body).toBe(200);
      expect(res!.json<RackReport>().movedIn).toHaveLength(n);
    }
    // BEGIN with the request id, box, tubes locked, box contents, their boxes, position locks,
    // deferred position check, custody events, the UPDATE with its audit rows, outbox, commit.
    expect(sent[8]!.length, sent[8]!.join('\n')).toBe(11);
    expect(sent[2]!.length).toBe(sent[8]!.length);
  });

  /** Three tubes in another box, and the reading that moves them into a new one. */
  async function threeToMove() {
    const box = await lab.box({ rows: 3, cols: 3 });
    const other = await lab.box({ rows: 3, cols: 3 });
    const tubes = [];
    for (const position of ['A1', 'B2', 'C3'])
      tubes.push(await lab.register({ containerId: other.id, position }));
    const body = {
      readings: reading({ A1: tubes[0]!.barcode, A2: tubes[1]!.barcode, A3: tubes[2]!.barcode }),
      apply: true,
    };
    return { box, other, ids: tubes.map((s) => s.id), body };
  }

  const auditRowsOf = async (ids: string[]) =>
    (
      await t.sql.query(`select 1 from audit_log where action = 'rackScan' and entity_id = any($1::text[])`, [
        ids,
      ])
    ).rowCount;

  it('applies a keyed rack scan of several tubes once, however it is retried or raced', async () => {
    const { box, ids, body } = await threeToMove();
    const before = await snapshot(ids);
    const key = { headers: { 'idempotency-key': uid('RS-KEY') }, role: 'technician' as const };
    const send = () => lab.post(`/v1/containers/${box.id}/rack-scan`, body, key);
    const answers = [...(await Promise.all([send(), send()])), await send()];
    for (const a of answers) expect(a.statusCode, a.body).toBe(200);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(2);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers[0]!.json<RackReport>().movedIn).toHaveLength(3);
    // Each tube moved once: one custody event, one version, one audit row.
    const after = await snapshot(ids);
    expect(after.map((r) => [r.container_id, r.version, r.custody_seq])).toEqual(
      before.map((r) => [box.id, Number(r.version) + 1, Number(r.custody_seq) + 1]),
    );
    expect(await auditRowsOf(ids)).toBe(3);
  });

  it('writes nothing when its database session ends inside the batch statement, and applies once when retried', async () => {
    const { box, ids, body } = await threeToMove();
    const before = await snapshot(ids);
    const requestId = uid('rs-lost');
    // The batch statement (the UPDATE with its audit rows) stalls on its first audit row.
    await t.sql.query(`
      create or replace function stall_rack_scan_audit() returns trigger language plpgsql as $$
      begin perform pg_sleep(60); return new; end $$`);
    await t.sql.query(`
      create trigger stall_rack_scan_audit before insert on audit_log for each row
      when (new.request_id = '${requestId}') execute function stall_rack_scan_audit()`);
    const key = uid('RS-KEY');
    const send = (id: string) =>
      lab.post(`/v1/containers/${box.id}/rack-scan`, body, {
        role: 'technician',
        headers: { 'idempotency-key': key, 'x-request-id': id },
      });
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
      expect(pid, 'the batch statement stalled').toBeDefined();
      await t.sql.query('select pg_terminate_backend($1)', [pid]);
      const answer = await lost;
      expect(answer.statusCode, answer.body).toBe(503);
      expect(answer.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(await snapshot(ids)).toEqual(before);
      expect(await auditRowsOf(ids)).toBe(0);
    } finally {
      await t.sql.query('drop trigger stall_rack_scan_audit on audit_log');
    }
    const retried = await send(uid('rs-retry'));
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.json<RackReport>().movedIn).toHaveLength(3);
    const after = await snapshot(ids);
    expect(after.map((r) => [r.container_id, r.version, r.custody_seq])).toEqual(
      before.map((r) => [box.id, Number(r.version) + 1, Number(r.custody_seq) + 1]),
    );
    expect(await auditRowsOf(ids)).toBe(3);
  });

  it('records two tubes swapping positions in one apply', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const x = await lab.register({ containerId: box.id, position: 'B1' });
    const y = await lab.register({ containerId: box.id, position: 'B3' });
    const res = await rackScan(box.id, { readings: reading({ B1: y.barcode, B3: x.barcode }), apply: true });
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json<RackReport>();
    expect(report.applied).toBe(true);
    expect(report.movedIn.map((m) => [m.barcode, m.position]).sort()).toEqual(
      [
        [x.barcode, 'B3'],
        [y.barcode, 'B1'],
      ].sort(),
    );
    expect(report.missing).toEqual([]);
    expect(await specimenRow(t, x.id)).toMatchObject({ position_row: 2, position_col: 3 });
    expect(await specimenRow(t, y.id)).toMatchObject({ position_row: 2, position_col: 1 });
    expect((await custodyRows(t, x.id)).at(-1)).toMatchObject({
      type: 'moved',
      from_position: 'B1',
      to_position: 'B3',
    });
    expect((await custodyRows(t, y.id)).at(-1)).toMatchObject({
      type: 'moved',
      from_position: 'B3',
      to_position: 'B1',
    });
    const map = (await lab.get(`/v1/containers/${box.id}/map`)).json<{
      positions: { position: string; occupant: { barcode: string } | null }[];
    }>();
    const at = (p: string) => map.positions.find((m) => m.position === p)!.occupant?.barcode;
    expect([at('B1'), at('B3')]).toEqual([y.barcode, x.barcode]);
  });

  it('stores a registered tube found in the box (its first place: `stored`, not `moved`)', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const fresh = await lab.register();
    const res = await rackScan(box.id, { readings: reading({ C2: fresh.barcode }), apply: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<RackReport>().movedIn).toEqual([
      { position: 'C2', barcode: fresh.barcode, specimenId: fresh.id, from: null },
    ]);
    expect(await specimenRow(t, fresh.id)).toMatchObject({ status: 'available', container_id: box.id });
    expect((await custodyRows(t, fresh.id)).at(-1)).toMatchObject({
      type: 'stored',
      from_container_id: null,
      to_container_id: box.id,
      to_position: 'C2',
    });
  });

  it('refuses a reading dated in the future in a dry run as the apply does', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const other = await lab.box({ rows: 3, cols: 3 });
    const stray = await lab.register({ containerId: other.id, position: 'A1' });
    const before = await snapshot([stray.id]);
    const occurredAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    for (const apply of [false, true]) {
      const res = await rackScan(box.id, { readings: reading({ A1: stray.barcode }), occurredAt, apply });
      expect(fieldsOf(expectProblem(res, 400, 'TIME_IN_FUTURE'))).toEqual(['occurredAt']);
    }
    expect(await snapshot([stray.id])).toEqual(before);
  });

  it('refuses to apply a move onto a position still recorded for an unread tube, and records nothing', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const sitting = await lab.register({ containerId: box.id, position: 'A1' });
    const other = await lab.box({ rows: 3, cols: 3 });
    const stray = await lab.register({ containerId: other.id, position: 'A1' });
    const before = await snapshot([sitting.id, stray.id]);
    // The dry run says so first.
    const dry = await rackScan(box.id, { readings: reading({ A1: stray.barcode }) });
    expect(dry.json<RackReport>().errors).toEqual([
      {
        position: 'A1',
        message: `${sitting.barcode} is still recorded at A1 and was not read: mark it missing or move it first`,
      },
    ]);
    const res = await rackScan(box.id, { readings: reading({ A1: stray.barcode }), apply: true });
    expect(fieldsOf(expectProblem(res, 409, 'POSITION_OCCUPIED'))).toEqual(['readings.0.position']);
    expect(await snapshot([sitting.id, stray.id])).toEqual(before);
  });

  it('reports in a dry run the tubes an apply would refuse, and the apply names their readings', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const other = await lab.box({ rows: 3, cols: 3 });
    const fine = await lab.register({ containerId: other.id, position: 'A1' });
    const gone = await lab.register({ containerId: other.id, position: 'A2' });
    await lab.action(gone.id, 'destroy', { reason: 'tube cracked' });
    const body = { readings: reading({ B1: fine.barcode, C2: gone.barcode }) };
    const before = await snapshot([fine.id, gone.id]);

    const dry = await rackScan(box.id, body);
    expect(dry.statusCode, dry.body).toBe(200);
    const { errors } = dry.json<RackReport>();
    expect(errors.map((e) => e.position)).toEqual(['C2']);
    expect(errors[0]!.message).toContain('destroyed');

    const applied = await rackScan(box.id, { ...body, apply: true });
    const problem = expectProblem(applied, 422, 'RACK_SCAN_REJECTED');
    // C2 is the eighth position of the reading (index 7).
    expect(fieldsOf(problem)).toEqual(['readings.7.barcode']);
    expect(problem.detail).toContain('1 tube cannot move');
    expect(await snapshot([fine.id, gone.id])).toEqual(before);
  });

  it('refuses readings outside the grid or read twice, naming the reading', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    const outside = await rackScan(box.id, { readings: [{ position: 'D4', barcode: null }] });
    expect(fieldsOf(expectProblem(outside, 400, 'INVALID_READING'))).toEqual(['readings.0.position']);
    const twice = await rackScan(box.id, {
      readings: [
        { position: 'A1', barcode: tube.barcode },
        { position: 'A2', barcode: tube.barcode },
      ],
    });
    expect(fieldsOf(expectProblem(twice, 400, 'INVALID_READING'))).toEqual(['readings.1.barcode']);
  });
});
