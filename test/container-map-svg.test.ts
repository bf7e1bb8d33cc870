import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectProblem,
  makeLab,
  type ContainerBody,
  type Lab,
  type SpecimenBody,
} from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// The box map as a picture: the SVG's structure over REST, and Debian's Chromium drawing it
// (installed by .ci/run when missing), read back pixel by pixel.

const CHROMIUM = '/usr/bin/chromium';

let t: TestApp;
let lab: Lab;
let box: ContainerBody;
let plasma: SpecimenBody;
let dna: SpecimenBody;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 3, cols: 4 });
  plasma = await lab.register({ type: 'plasma', containerId: box.id, position: 'A1' });
  dna = await lab.register({ type: 'dna', containerId: box.id, position: 'B2' });
  await lab.action(dna.id, 'place-hold', { reason: 'QUARANTINE' });
});
afterAll(() => t.close());

const svgOf = (path: string, role: 'technician' | 'manager' = 'technician') =>
  t.app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${lab.keys[role]}` } });

describe('GET /v1/containers/{id}/map.svg', () => {
  it('is linked from the map JSON and draws the grid, tooltips, holds and a legend', async () => {
    const map = await lab.get(`/v1/containers/${box.id}/map`);
    expect(map.statusCode).toBe(200);
    const { svgUrl } = map.json<{ svgUrl: string }>();
    expect(svgUrl).toBe(`/v1/containers/${box.id}/map.svg`);

    const res = await svgOf(svgUrl);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const svg = res.body;
    expect(svg).toContain(`<title>A1: ${plasma.barcode}, plasma, available</title>`);
    expect(svg).toContain(`<title>B2: ${dna.barcode}, dna, available, on hold: QUARANTINE</title>`);
    expect(svg).toContain('<title>C4: empty</title>');
    expect(svg.match(/class="empty"/g)).toHaveLength(10);
    expect(svg.match(/class="occupied held"/g)).toHaveLength(1);
    for (const label of ['>A<', '>B<', '>C<', '>1<', '>4<', '>plasma<', '>dna<', '>on hold<', '>empty<'])
      expect(svg).toContain(label);

    const byStatus = await svgOf(`${svgUrl}?colourBy=status`);
    expect(byStatus.body).toContain('>available<');
    expect(byStatus.body).not.toContain('>plasma<');
  });

  it("answers 404 for another institution's box and 400 for an unknown colouring", async () => {
    const other = await makeLab(t);
    const theirs = await other.box();
    expectProblem(await svgOf(`/v1/containers/${theirs.id}/map.svg`), 404, 'CONTAINER_NOT_FOUND');
    expectProblem(await svgOf(`/v1/containers/${box.id}/map.svg?colourBy=size`), 400, 'VALIDATION_FAILED');
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the box map in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(() => browser?.close());

  it('renders tubes in their type colour, the held tube ringed in red and empty positions white', async () => {
    const svg = (await svgOf(`/v1/containers/${box.id}/map.svg`)).body;
    const page = await browser.newPage({ viewport: { width: 420, height: 220 } });
    await page.goto(`data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`);
    const shot = PNG.sync.read(await page.screenshot());
    const rgb = (x: number, y: number) => {
      const i = (y * shot.width + x) * 4;
      return [shot.data[i]!, shot.data[i + 1]!, shot.data[i + 2]!];
    };
    const near = (actual: number[], hex: string) => {
      const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      return actual.every((v, i) => Math.abs(v - want[i]!) <= 12);
    };
    // Grid origin (40, 68), cells of 36: A1's centre (58, 86), B2's (94, 122), C3's (130, 158).
    expect(near(rgb(58, 86), '#fbc02d'), `A1 ${rgb(58, 86).join(',')}`).toBe(true); // plasma
    expect(near(rgb(94, 122), '#1565c0'), `B2 ${rgb(94, 122).join(',')}`).toBe(true); // dna
    expect(near(rgb(108, 122), '#c00000'), `B2 ring ${rgb(108, 122).join(',')}`).toBe(true); // hold
    expect(near(rgb(130, 158), '#ffffff'), `C3 ${rgb(130, 158).join(',')}`).toBe(true); // empty
    await page.close();
  });
});
