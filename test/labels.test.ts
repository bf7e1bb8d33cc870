import {
  BarcodeFormat,
  BinaryBitmap,
  Code128Reader,
  DataMatrixReader,
  DecodeHintType,
  HybridBinarizer,
  RGBLuminanceSource,
} from '@zxing/library';
import { PDFDocument } from 'pdf-lib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Labels are read back the way a scanner reads them: the PNG is decoded by ZXing, an independent
// decoder, to the tube's barcode; the ZPL carries the printer's own DataMatrix / Code 128 command.

let t: TestApp;
let lab: Lab;
let stored: SpecimenBody;
let loose: SpecimenBody;
let boxBarcode: string;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  const box = await lab.box();
  boxBarcode = box.barcode;
  stored = await lab.register({
    barcode: uid('LBL'),
    type: 'plasma',
    containerId: box.id,
    position: 'B3',
    collectedAt: '2026-11-30T08:15:00Z',
  });
  loose = await lab.register({ barcode: `T_1:${uid('X')}`, type: 'dna' });
});
afterAll(() => t.close());

/**
 * The dots of a PNG as ZXing's luminance source, decoded with the given reader. For a DataMatrix
 * only the square left of the text is read, as a scanner aimed at the symbol sees it, and read as
 * the pure, upright symbol a printed label is: ZXing's locator, made for photographs, misjudges
 * the size of about one exact 16 x 16 symbol in a thousand (one such barcode failed a CI run),
 * while its pure-symbol reading decodes every one (20,000 random barcodes).
 */
function decodePng(
  png: Buffer,
  symbology: 'datamatrix' | 'code128',
): { text: string; format: BarcodeFormat } {
  const image = PNG.sync.read(png);
  const width = symbology === 'datamatrix' ? image.height : image.width;
  const luminance = new Uint8ClampedArray(width * image.height);
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < width; x++) luminance[y * width + x] = image.data[(y * image.width + x) * 4]!;
  const source = new RGBLuminanceSource(luminance, width, image.height);
  const bitmap = new BinaryBitmap(new HybridBinarizer(source));
  const result =
    symbology === 'datamatrix'
      ? new DataMatrixReader().decode(bitmap, new Map([[DecodeHintType.PURE_BARCODE, true]]))
      : new Code128Reader().decode(bitmap);
  return { text: result.getText(), format: result.getBarcodeFormat() };
}

const label = (id: string, query: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'GET',
    url: `/v1/specimens/${id}/label${query}`,
    headers: { authorization: `Bearer ${lab.keys.technician}`, ...headers },
  });

describe('GET /v1/specimens/{id}/label', () => {
  it('draws a DataMatrix a decoder reads back to the barcode, on a 300 dpi cryo label', async () => {
    const res = await label(stored.id, '?format=png');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    const image = PNG.sync.read(res.rawPayload);
    // 1.28 x 0.5 in at 300 dpi
    expect([image.width, image.height]).toEqual([383, 150]);
    expect(decodePng(res.rawPayload, 'datamatrix')).toEqual({
      text: stored.barcode,
      format: BarcodeFormat.DATA_MATRIX,
    });
  });

  it('draws a Code 128 a decoder reads back, when the label is wide enough', async () => {
    const res = await label(stored.id, '?format=png&symbology=code128&size=box-51x25');
    expect(res.statusCode, res.body).toBe(200);
    expect(decodePng(res.rawPayload, 'code128')).toEqual({
      text: stored.barcode,
      format: BarcodeFormat.CODE_128,
    });
  });

  it('refuses a Code 128 that cannot be printed readably on a small label, with 400 naming the field', async () => {
    const res = await label(stored.id, '?format=png&symbology=code128&size=cryo-25x13');
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.errors?.[0]).toMatchObject({ field: 'symbology' });
  });

  it('writes ZPL with the barcode, type, date and box position, the escape character escaped', async () => {
    const res = await label(stored.id, '');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const zpl = res.body;
    expect(zpl.startsWith('^XA')).toBe(true);
    expect(zpl.trimEnd().endsWith('^XZ')).toBe(true);
    expect(zpl).toMatch(new RegExp(`\\^BXN,\\d+,200\\^FH_\\^FD${stored.barcode}\\^FS`));
    for (const text of ['PLASMA', '2026-11-30', `${boxBarcode} B3`]) expect(zpl).toContain(`^FD${text}^FS`);

    const odd = await label(loose.id, '?format=zpl');
    expect(odd.statusCode).toBe(200);
    const escaped = loose.barcode.replace(/_/g, '_5F');
    expect(odd.body).toContain(`^FD${escaped}^FS`);
    expect(odd.body.match(/\^XA/g)).toHaveLength(1);
    expect(odd.body).not.toContain(loose.barcode);
  });

  it('follows the Accept header when no format is named', async () => {
    const pdf = await label(stored.id, '', { accept: 'application/pdf' });
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    const png = await label(stored.id, '', { accept: 'image/png' });
    expect(png.headers['content-type']).toBe('image/png');
  });

  it("answers 404 for another institution's specimen and 400 for an unknown size", async () => {
    const other = await makeLab(t);
    const theirs = await other.register();
    expectProblem(await label(theirs.id, '?format=png'), 404, 'SPECIMEN_NOT_FOUND');
    expectProblem(await label(stored.id, '?size=huge'), 400, 'VALIDATION_FAILED');
  });
});

describe('POST /v1/labels', () => {
  const print = (body: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/labels',
      headers: { authorization: `Bearer ${lab.keys.technician}` },
      payload: body as Record<string, unknown>,
    });

  it('prints a list in the order given: one PDF page, one ZPL label, one PNG strip per specimen', async () => {
    const ids = [loose.id, stored.id, loose.id];
    const pdf = await print({ specimenIds: ids, format: 'pdf' });
    expect(pdf.statusCode, pdf.body).toBe(200);
    expect(pdf.headers['x-label-count']).toBe('3');
    const doc = await PDFDocument.load(pdf.rawPayload);
    expect(doc.getPageCount()).toBe(3);
    const { width, height } = doc.getPage(0).getSize();
    expect([Math.round(width), Math.round(height)]).toEqual([92, 36]); // 32.5 x 12.7 mm in points

    const zpl = await print({ specimenIds: ids, format: 'zpl' });
    expect(zpl.body.match(/\^XA/g)).toHaveLength(3);
    expect(zpl.body.indexOf(stored.barcode)).toBeGreaterThan(zpl.body.indexOf('^XZ'));

    const png = await print({ specimenIds: [stored.id, loose.id], format: 'png', size: 'cryo-25x13' });
    const sheet = PNG.sync.read(png.rawPayload);
    expect(sheet.width).toBe(300);
    expect(sheet.height).toBe(2 * 150 + 12);
  });

  it('answers 404 naming the first unknown id and prints nothing', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const problem = expectProblem(
      await print({ specimenIds: [stored.id, unknown] }),
      404,
      'SPECIMEN_NOT_FOUND',
    );
    expect(problem.detail).toContain(unknown);
    expect(problem.errors?.[0]).toMatchObject({ field: 'specimenIds' });
    expectProblem(await print({ specimenIds: [] }), 400, 'VALIDATION_FAILED');
  });
});
