// A label as a grayscale PNG: the symbol's modules as exact dot squares and the text in OCR-B
// (the glyphs bwip-js ships), encoded here with node:zlib, so no image library is needed.
import { crc32, deflateSync } from 'node:zlib';
import bwipjs from 'bwip-js';
import type { Layout } from './labels.layout.js';

const OCR_B = bwipjs.FontLib.lookup('OCR-B');
const DARK = 0;
const LIGHT = 255;

/** A gray canvas, one byte per dot, 255 white. */
export interface Canvas {
  width: number;
  height: number;
  dots: Uint8Array;
}

export function newCanvas(width: number, height: number): Canvas {
  return { width, height, dots: new Uint8Array(width * height).fill(LIGHT) };
}

function fillRect(c: Canvas, x: number, y: number, w: number, h: number) {
  for (let row = Math.max(0, y); row < Math.min(c.height, y + h); row++)
    c.dots.fill(DARK, row * c.width + Math.max(0, x), row * c.width + Math.min(c.width, x + w));
}

/** Draws the text from its left baseline point; stops at the first character that would overflow. */
function drawText(c: Canvas, text: string, x: number, baseline: number, size: number, maxWidth: number) {
  let pen = x;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const glyph = bwipjs.FontLib.getglyph(OCR_B, code >= 32 && code < 127 ? code : 63, size, size);
    if (pen + glyph.advance - x > maxWidth) break;
    const pixels = glyph.pixels as Uint8Array | null;
    if (pixels) {
      for (let gy = 0; gy < glyph.height; gy++) {
        const y = baseline - glyph.top + gy;
        if (y < 0 || y >= c.height) continue;
        for (let gx = 0; gx < glyph.width; gx++) {
          const cx = pen + glyph.left + gx;
          if (cx < 0 || cx >= c.width) continue;
          const i = y * c.width + cx;
          c.dots[i] = Math.min(c.dots[i]!, LIGHT - pixels[gy * glyph.width + gx]!);
        }
      }
    }
    pen += glyph.advance;
  }
}

/** Draws one label with its top-left corner at `top` on the canvas. */
export function drawLabel(c: Canvas, layout: Layout, top = 0) {
  const { module } = layout;
  if (layout.matrix) {
    const { cols, rows, dark } = layout.matrix;
    for (let r = 0; r < rows; r++)
      for (let col = 0; col < cols; col++)
        if (dark[r * cols + col])
          fillRect(c, layout.symbolX + col * module, top + layout.symbolY + r * module, module, module);
  }
  if (layout.bars) {
    let x = layout.symbolX;
    layout.bars.widths.forEach((w, i) => {
      if (i % 2 === 0) fillRect(c, x, top + layout.symbolY, w * module, layout.bars!.height);
      x += w * module;
    });
  }
  for (const line of layout.lines) drawText(c, line.text, line.x, top + line.y, line.size, line.maxWidth);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** PNG, 8-bit grayscale, with its resolution (pHYs) so printing keeps the label's size. */
export function encodePng(c: Canvas, dpi: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(c.width, 0);
  header.writeUInt32BE(c.height, 4);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, grayscale, deflate, no filter method, no interlace
  const physical = Buffer.alloc(9);
  const perMetre = Math.round(dpi / 0.0254);
  physical.writeUInt32BE(perMetre, 0);
  physical.writeUInt32BE(perMetre, 4);
  physical[8] = 1;
  const raw = Buffer.alloc((c.width + 1) * c.height);
  for (let y = 0; y < c.height; y++)
    raw.set(c.dots.subarray(y * c.width, (y + 1) * c.width), y * (c.width + 1) + 1); // filter 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('pHYs', physical),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
