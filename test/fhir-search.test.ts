import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FhirSpecimen } from '../src/modules/fhir/index.js';
import { BARCODE_SYSTEM, expectOutcome, fhir, LIS, OUR_TYPES, type FhirAnswer } from './helpers/fhir.js';
import { makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { createTestApp, until, type TestApp } from './helpers/test-app.js';
import { SERVICE_APPLICATION_NAME, createDatabase } from '../src/db/client.js';

// GET /fhir/R4/Specimen?...: a searchset Bundle per page with self and next links (a keyset cursor),
// filtered by identifier, type and _lastUpdated, only ever the caller's institution's specimens.

interface Bundle {
  resourceType: 'Bundle';
  type: string;
  total?: number;
  link: { relation: string; url: string }[];
  entry?: { fullUrl: string; resource: FhirSpecimen; search: { mode: string } }[];
}

let t: TestApp;
let lab: Lab;
let other: Lab;
/** lab's specimens: 5 serum, 3 urine, 2 buffy coat, 1 PBMC */
let tubes: SpecimenBody[];

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  other = await makeLab(t);
  tubes = [];
  const kinds = [
    ...Array<string>(5).fill('serum'),
    ...Array<string>(3).fill('urine'),
    'buffy_coat',
    'buffy_coat',
    'pbmc',
  ] as string[];
  for (const [i, type] of kinds.entries())
    tubes.push(await lab.register({ type, quantity: 1, externalIds: [{ system: LIS, value: `ACC-${i}` }] }));
  // The other institution holds the same LIS ids and types: none of its tubes may appear.
  for (const [i, type] of kinds.entries())
    await other.register({ type, quantity: 1, externalIds: [{ system: LIS, value: `ACC-${i}` }] });
});
afterAll(() => t.close());

const search = (query: string, as: Lab = lab) => fhir<Bundle>(t, as, 'GET', `/Specimen?${query}`);
const ids = (a: FhirAnswer<Bundle>) => (a.body.entry ?? []).map((e) => e.resource.id);
const next = (a: FhirAnswer<Bundle>) => a.body.link.find((l) => l.relation === 'next')?.url;
const byType = (type: string) => tubes.filter((s) => s.type === type).map((s) => s.id);

/** Every page of a search, following next links to the end. */
async function all(query: string) {
  const pages: FhirAnswer<Bundle>[] = [await search(query)];
  for (let url = next(pages[0]!); url; url = next(pages.at(-1)!)) {
    const { pathname, search: qs } = new URL(url);
    expect(pathname).toBe('/fhir/R4/Specimen');
    pages.push(await fhir<Bundle>(t, lab, 'GET', `/Specimen${qs}`));
  }
  return pages;
}

describe('searchset Bundles', () => {
  it('pages through every specimen of the institution in id order, each once, with self and next links', async () => {
    const pages = await all('_count=4');
    expect(pages.map((p) => ids(p).length)).toEqual([4, 4, 3]);
    const seen = pages.flatMap(ids);
    expect(seen).toEqual(tubes.map((s) => s.id).sort());
    const first = pages[0]!.body;
    expect(first.type).toBe('searchset');
    expect(first.link[0]).toEqual({ relation: 'self', url: 'http://localhost:80/fhir/R4/Specimen?_count=4' });
    expect(first.entry![0]!.fullUrl).toBe(`http://localhost:80/fhir/R4/Specimen/${seen[0]}`);
    expect(first.entry![0]!.search).toEqual({ mode: 'match' });
    expect(next(pages[2]!)).toBeUndefined();
  });

  it('finds by identifier: an external (LIS) id, a barcode, our id, alternatives after a comma', async () => {
    expect(ids(await search(`identifier=${encodeURIComponent(`${LIS}|ACC-3`)}`))).toEqual([tubes[3]!.id]);
    expect(
      ids(await search(`identifier=${encodeURIComponent(`${BARCODE_SYSTEM}|${tubes[4]!.barcode}`)}`)),
    ).toEqual([tubes[4]!.id]);
    expect(
      ids(await search(`identifier=${encodeURIComponent(`urn:ietf:rfc:3986|urn:uuid:${tubes[5]!.id}`)}`)),
    ).toEqual([tubes[5]!.id]);
    const either = await search(`identifier=${encodeURIComponent(`${LIS}|ACC-0,${LIS}|ACC-9`)}`);
    expect(ids(either).sort()).toEqual([tubes[0]!.id, tubes[9]!.id].sort());
    expect(ids(await search(`identifier=${encodeURIComponent(`${LIS}|ACC-404`)}`))).toEqual([]);
  });

  it('finds by type in our codes, SNOMED CT and HL7 v2 0487, a coarse code matching every type it covers', async () => {
    expect(ids(await search('type=serum'))).toEqual(byType('serum'));
    expect(ids(await search(`type=${encodeURIComponent(`${OUR_TYPES}|urine`)}`))).toEqual(byType('urine'));
    expect(ids(await search(`type=${encodeURIComponent('http://snomed.info/sct|119364003')}`))).toEqual(
      byType('serum'),
    );
    const wbc = await search(
      `type=${encodeURIComponent('http://terminology.hl7.org/CodeSystem/v2-0487|WBC')}`,
    );
    expect(ids(wbc)).toEqual([...byType('buffy_coat'), ...byType('pbmc')].sort());
    expect(ids(await search('type=serum,urine'))).toEqual([...byType('serum'), ...byType('urine')].sort());
    expect(ids(await search('type=no-such-type'))).toEqual([]);
    // `|code` is a code with no system: every coding of ours has one.
    expect(ids(await search(`type=${encodeURIComponent('|serum')}`))).toEqual([]);
  });

  it('filters by _lastUpdated and then pages in order of last update, a changed tube moving to the end', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const late = tubes[2]!;
    const res = await lab.call(
      'PATCH',
      `/v1/specimens/${late.id}`,
      { anatomicSite: 'arm' },
      {
        headers: { 'if-match': `W/"${late.version}"` },
      },
    );
    expect(res.statusCode, res.body).toBe(200);
    const updated = await search(`_lastUpdated=ge${encodeURIComponent(since)}`);
    expect(ids(updated).at(-1)).toBe(late.id);
    const everything = await all('_lastUpdated=ge2000&_count=3');
    const seen = everything.flatMap(ids);
    expect(seen.at(-1)).toBe(late.id);
    expect([...seen].sort()).toEqual(tubes.map((s) => s.id).sort());
    expect(ids(await search('_lastUpdated=lt2000-01-01'))).toEqual([]);
    expect(ids(await search('_lastUpdated=ge2000-01&_lastUpdated=lt2999'))).toHaveLength(tubes.length);
    const lastUpdated = (await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${late.id}`)).body.meta
      .lastUpdated;
    expect(ids(await search(`_lastUpdated=${encodeURIComponent(lastUpdated)}`))).toEqual([late.id]);
    expect(ids(await search(`_lastUpdated=gt${encodeURIComponent(lastUpdated)}`))).toEqual([]);
  });

  it('in order of last update, stops before a write still running, so a client catching up never passes it', async () => {
    const [slow, quick] = [
      await lab.register({ type: 'urine', quantity: 1 }),
      await lab.register({ type: 'urine', quantity: 1 }),
    ];
    const start = (await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${quick.id}`)).body.meta.lastUpdated;
    const edit = (s: SpecimenBody, site: string) =>
      lab.call(
        'PATCH',
        `/v1/specimens/${s.id}`,
        { anatomicSite: site },
        { headers: { 'if-match': `W/"${s.version}"` } },
      );
    const lock = await t.sql.connect();
    let slowEdit: ReturnType<typeof edit> | undefined;
    try {
      // The slow tube's edit starts its transaction, then waits for the row this test holds.
      await lock.query('begin');
      await lock.query('select 1 from specimen where id = $1 for update', [slow.id]);
      slowEdit = edit(slow, 'slow');
      await until(async () => {
        const { rowCount } = await t.sql.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        return rowCount === 1;
      });
      // A later edit commits first, with a later last update.
      expect((await edit(quick, 'quick')).statusCode).toBe(200);
      const meanwhile = await search(`_lastUpdated=gt${encodeURIComponent(start)}`);
      expect(ids(meanwhile)).not.toContain(quick.id);
      // The count leaves it out too: a last page holds exactly its total.
      const counted = await search(`_lastUpdated=gt${encodeURIComponent(start)}&_total=accurate`);
      expect(ids(counted)).toEqual(ids(meanwhile));
      expect(counted.body.total).toBe(ids(meanwhile).length);
      expect((await search(`_lastUpdated=gt${encodeURIComponent(start)}&_summary=count`)).body.total).toBe(
        ids(meanwhile).length,
      );
    } finally {
      await lock.query('rollback');
      lock.release();
    }
    expect((await slowEdit).statusCode).toBe(200);
    // Both now, the slow one first: it was written from the earlier instant.
    expect(
      ids(await search(`_lastUpdated=gt${encodeURIComponent(start)}`)).filter((id) =>
        [slow.id, quick.id].includes(id),
      ),
    ).toEqual([slow.id, quick.id]);
  });

  it('is not held back by a transaction of another program (a psql session, a backup)', async () => {
    const start = new Date(Date.now() - 1000).toISOString();
    const idle = await t.sql.connect();
    try {
      // Another program's transaction, open and idle, as a DBA's psql or pg_dump leaves it.
      await idle.query("set application_name = 'psql'");
      await idle.query('begin');
      await idle.query('select 1 from specimen limit 1');
      const written = await lab.register({ type: 'urine', quantity: 1 });
      expect(ids(await search(`_lastUpdated=gt${encodeURIComponent(start)}`))).toContain(written.id);
    } finally {
      await idle.query('rollback');
      idle.release(true);
    }
  });

  it("keeps the service's session name when the database URL sets another", async () => {
    const url = new URL(t.config.DATABASE_URL);
    url.searchParams.set('application_name', 'psql');
    const d = createDatabase(url.toString(), { poolSize: 1 });
    try {
      const { rows } = await d.pool.query<{ name: string }>(
        "select current_setting('application_name') as name",
      );
      expect(rows).toEqual([{ name: SERVICE_APPLICATION_NAME }]);
    } finally {
      await d.close();
    }
  });

  it('combines parameters and cuts _count to 500', async () => {
    const both = await search(`type=urine&identifier=${encodeURIComponent(`${LIS}|ACC-6`)}`);
    expect(ids(both)).toEqual([tubes[6]!.id]);
    expect(ids(await search(`type=serum&identifier=${encodeURIComponent(`${LIS}|ACC-6`)}`))).toEqual([]);
    const big = await search('_count=5000');
    expect(big.body.link[0]!.url).toContain('_count=500');
  });

  it('never shows another institution’s specimens, whatever the filter', async () => {
    const theirs = await search(`identifier=${encodeURIComponent(`${LIS}|ACC-3`)}`, other);
    expect(ids(theirs)).toHaveLength(1);
    expect(ids(theirs)).not.toContain(tubes[3]!.id);
    expect(
      ids(
        await search(`identifier=${encodeURIComponent(`urn:ietf:rfc:3986|urn:uuid:${tubes[0]!.id}`)}`, other),
      ),
    ).toEqual([]);
  });
});

describe('the number of matches (Bundle.total)', () => {
  const selfOf = (a: FhirAnswer<Bundle>) => a.body.link.find((l) => l.relation === 'self')?.url;

  it('answers the count alone for _summary=count and _count=0, of this institution only, whatever the filter', async () => {
    const everything = (await all('_count=500')).flatMap(ids).length;
    for (const query of [
      '_summary=count',
      '_count=0',
      '_count=0&_total=accurate',
      '_summary=count&_total=none',
    ]) {
      const counted = await search(query);
      expect(counted.status).toBe(200);
      expect(counted.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: everything });
      expect(counted.body.entry).toBeUndefined();
      expect(selfOf(counted)).toBe('http://localhost:80/fhir/R4/Specimen?_summary=count');
      expect(next(counted)).toBeUndefined();
    }
    expect((await search('type=serum&_summary=count')).body.total).toBe(byType('serum').length);
    const lis = encodeURIComponent(`${LIS}|ACC-3,${LIS}|ACC-4,${LIS}|nobody`);
    expect((await search(`identifier=${lis}&_summary=count`)).body.total).toBe(2);
    expect((await search('_lastUpdated=lt2000&_summary=count')).body.total).toBe(0);
    expect((await search('_lastUpdated=ge2000&_summary=count')).body.total).toBe(everything);
  });

  it('adds the count to the page for _total=accurate (and estimate), not to the next pages, and leaves it out otherwise', async () => {
    const pages = await all('type=serum&_count=2&_total=accurate');
    expect(pages.map((p) => ids(p).length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.body.total)).toEqual([5, undefined, undefined]);
    expect(new URL(next(pages[0]!)!).searchParams.get('_total')).toBeNull();
    // A client that asks again on a later page is answered.
    const second = await search(`${new URL(next(pages[0]!)!).search.slice(1)}&_total=accurate`);
    expect([ids(second), second.body.total]).toEqual([ids(pages[1]!), 5]);
    expect(selfOf(pages[0]!)).toBe(
      'http://localhost:80/fhir/R4/Specimen?type=serum&_count=2&_total=accurate',
    );
    expect((await search('_count=1&_total=estimate')).body.total).toBe(
      (await search('_summary=count')).body.total,
    );
    for (const query of ['_count=2', '_count=2&_total=none', '_count=2&_summary=false']) {
      const page = await search(query);
      expect(ids(page)).toHaveLength(2);
      expect(page.body.total).toBeUndefined();
    }
  });
});

describe('bad search parameters answer 400 OperationOutcome naming the parameter', () => {
  const cases: [string, string][] = [
    ['an unknown parameter', 'identfier=x'],
    ['an identifier without a system', 'identifier=ACC-1'],
    ['an identifier with an empty system', 'identifier=%7CACC-1'],
    ['an identifier whose system is no URI', 'identifier=LIS%20main%7CACC-1'],
    ['an identifier of ours that is no urn:uuid', 'identifier=urn%3Aietf%3Arfc%3A3986%7C42'],
    ['identifier twice', 'identifier=a%7Cb&identifier=c%7Cd'],
    ['a date that does not exist', '_lastUpdated=ge2026-02-30'],
    ['a date-time without a time zone', '_lastUpdated=ge2026-02-03T10:00:00'],
    ['an unsupported prefix', '_lastUpdated=sa2026'],
    ['year 0000', '_lastUpdated=ge0000'],
    ['_count below 0', '_count=-1'],
    ['a _summary other than count or false', '_summary=true'],
    ['a _total other than none, estimate or accurate', '_total=exact'],
    ['a cursor with a count', '_cursor=abc&_summary=count'],
    ['_summary twice', '_summary=count&_summary=count'],
    ['_total twice', '_total=accurate&_total=none'],
    ['_count not a number', '_count=ten'],
    ['a format other than JSON', '_format=xml'],
  ];
  for (const [what, query] of cases)
    it(`refuses ${what}`, async () => {
      const o = expectOutcome(await search(query), 400, 'VALIDATION_FAILED');
      expect(o.issue[0]!.code).toBe('invalid');
      expect(o.issue[0]!.expression?.[0]).toBe(/^[^=]+/.exec(query)![0]);
    });

  it('refuses a tampered cursor, and a cursor of the other order, with 400 INVALID_CURSOR', async () => {
    const first = await search('_count=2');
    const cursor = new URL(next(first)!).searchParams.get('_cursor')!;
    expectOutcome(await search(`_count=2&_cursor=${cursor.slice(0, -3)}xyz`), 400, 'INVALID_CURSOR');
    expectOutcome(await search(`_count=2&_lastUpdated=ge2000&_cursor=${cursor}`), 400, 'INVALID_CURSOR');
    const yearZero = Buffer.from(JSON.stringify(['lu', '0000-01-01T00:00:00Z', tubes[0]!.id])).toString(
      'base64url',
    );
    expectOutcome(await search(`_lastUpdated=ge2000&_cursor=${yearZero}`), 400, 'INVALID_CURSOR');
  });
});

describe('_lastUpdated at the ends of the calendar', () => {
  const everyone = () => tubes.map((s) => s.id).sort();
  const cases: [string, 'all' | 'none'][] = [
    ['eq9999', 'none'],
    ['gt9999-12-31', 'none'],
    ['ge9999-12-31T23:59:59-14:00', 'none'],
    ['le9999-12-31T23:59:59Z', 'all'],
    ['lt9999-12-31T23:59:59-14:00', 'all'],
    ['ge0001-01-01', 'all'],
    ['gt0099', 'all'],
    ['lt0050-06', 'none'],
    ['lt0001-01-01T00:00:00+05:00', 'none'],
    ['ge0001-01-01T00:00:00+05:00', 'all'],
  ];
  for (const [value, expected] of cases)
    it(`answers _lastUpdated=${value} with ${expected === 'all' ? 'every' : 'no'} specimen`, async () => {
      const pages = await all(`_lastUpdated=${encodeURIComponent(value)}&_count=500`);
      const found = pages.flatMap(ids).filter((id) => everyone().includes(id));
      expect(found.sort()).toEqual(expected === 'all' ? everyone() : []);
    });
});

describe('paging while tubes are added', () => {
  it('neither skips nor repeats a specimen that was there when paging started', async () => {
    const first = await search('_count=3');
    const added = await lab.register({ type: 'serum', quantity: 1, barcode: uid('NEW') });
    const rest: string[] = [];
    for (let url = next(first); url;) {
      const page = await fhir<Bundle>(t, lab, 'GET', `/Specimen${new URL(url).search}`);
      rest.push(...ids(page));
      url = next(page);
    }
    const seen = [...ids(first), ...rest];
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(tubes.map((s) => s.id)));
    expect(seen).toContain(added.id);
  });
});
