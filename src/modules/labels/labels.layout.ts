// Where a label's symbol and text lines go, in printer dots, for any resolution: the PNG and PDF
// (300 dpi) and the ZPL (203 dpi) are drawn from the same layout. The symbol's modules come from
// bwip-js (the Barcode Writer in Pure PostScript), never from an encoder of ours.
import bwipjs from 'bwip-js';

/** Label stock in millimetres: the usual cryogenic wrap labels and a box or bag label. */
export const LABEL_SIZES = {
  /** 1.28 x 0.5 in, wrap label of a 1.5-2 ml cryovial */
  'cryo-33x13': { widthMm: 32.5, heightMm: 12.7 },
  /** 1 x 0.5 in, microtube */
  'cryo-25x13': { widthMm: 25.4, heightMm: 12.7 },
  /** 2 x 1 in, box, rack or bag */
  'box-51x25': { widthMm: 50.8, heightMm: 25.4 },
} as const;
export type LabelSize = keyof typeof LABEL_SIZES;
export const LABEL_SIZE_NAMES = Object.keys(LABEL_SIZES) as [LabelSize, ...LabelSize[]];

/** DataMatrix (ECC 200) is the usual 2D code on cryotubes; Code 128 for 1D-only scanners. */
export const SYMBOLOGIES = ['datamatrix', 'code128'] as const;
export type Symbology = (typeof SYMBOLOGIES)[number];

/** What a label says besides its code. */
export interface LabelContent {
  barcode: string;
  /** short specimen type, e.g. "WHOLE BLOOD" */
  type: string;
  /** YYYY-MM-DD */
  date: string;
  /** box and position, e.g. "BX-0042 A1"; empty when not stored */
  location: string;
}

export interface TextLine {
  text: string;
  x: number;
  /** baseline */
  y: number;
  /** character height in dots */
  size: number;
  /** room in dots; the renderer cuts what does not fit */
  maxWidth: number;
}

export interface Layout {
  width: number;
  height: number;
  symbology: Symbology;
  /** top-left corner of the symbol */
  symbolX: number;
  symbolY: number;
  /** dots per module */
  module: number;
  /** DataMatrix: dark modules row by row (1 dark), `cols` x `rows` */
  matrix: { cols: number; rows: number; dark: Uint8Array } | null;
  /** Code 128: bar and space widths in modules, starting with a bar, and the bar height in dots */
  bars: { widths: number[]; height: number } | null;
  lines: TextLine[];
}

/** The smallest module printed: below two dots a thermal printer's dots smear into their neighbours. */
export const MIN_DOTS_PER_MODULE = 2;

export const dotsOf = (mm: number, dpi: number) => Math.floor((mm / 25.4) * dpi);

/** Thrown when the code does not fit the stock at a readable module size. */
export class LabelTooSmall extends Error {
  override name = 'LabelTooSmall';
}

interface RawMatrix {
  pixs: number[];
  pixx: number;
  pixy: number;
}
interface RawBars {
  sbs: number[];
}

export function layoutLabel(
  content: LabelContent,
  size: LabelSize,
  symbology: Symbology,
  dpi: number,
): Layout {
  const { widthMm, heightMm } = LABEL_SIZES[size];
  const width = dotsOf(widthMm, dpi);
  const height = dotsOf(heightMm, dpi);
  const margin = dotsOf(1, dpi);
  if (symbology === 'datamatrix') {
    const raw = bwipjs.raw({ bcid: 'datamatrix', text: content.barcode })[0] as unknown as RawMatrix;
    const side = height - 2 * margin;
    const module = Math.floor(side / Math.max(raw.pixx, raw.pixy));
    if (module < MIN_DOTS_PER_MODULE) throw new LabelTooSmall(`${raw.pixx} x ${raw.pixy} modules`);
    const symbolY = margin + Math.floor((side - module * raw.pixy) / 2);
    const textX = margin + module * raw.pixx + margin;
    const texts = [content.barcode, content.type, content.date, content.location];
    return {
      width,
      height,
      symbology,
      symbolX: margin,
      symbolY,
      module,
      matrix: { cols: raw.pixx, rows: raw.pixy, dark: Uint8Array.from(raw.pixs) },
      bars: null,
      lines: textLines(texts, textX, margin, width - textX - margin, height - 2 * margin),
    };
  }
  const raw = bwipjs.raw({ bcid: 'code128', text: content.barcode })[0] as unknown as RawBars;
  const quiet = 10; // modules of white either side (ISO/IEC 15417)
  const modules = raw.sbs.reduce((a, b) => a + b, 0) + 2 * quiet;
  const module = Math.floor((width - 2 * margin) / modules);
  if (module < MIN_DOTS_PER_MODULE) throw new LabelTooSmall(`${modules} modules wide`);
  const barHeight = Math.floor((height - 2 * margin) * 0.5);
  const symbolX = margin + Math.floor((width - 2 * margin - module * modules) / 2) + quiet * module;
  const texts = [content.barcode, `${content.type} ${content.date}`, content.location];
  const top = margin + barHeight + Math.floor(margin / 2);
  return {
    width,
    height,
    symbology,
    symbolX,
    symbolY: margin,
    module,
    matrix: null,
    bars: { widths: raw.sbs, height: barHeight },
    lines: textLines(texts, margin, top, width - 2 * margin, height - margin - top),
  };
}

/** Lines of equal height filling the box; empty lines are dropped. */
function textLines(texts: string[], x: number, top: number, maxWidth: number, boxHeight: number): TextLine[] {
  const kept = texts.filter((t) => t.length > 0);
  const pitch = Math.floor(boxHeight / Math.max(kept.length, 1));
  const size = Math.floor(pitch * 0.8);
  return kept.map((text, i) => ({ text, x, y: top + pitch * i + size, size, maxWidth }));
}
