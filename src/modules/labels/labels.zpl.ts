// ZPL II for Zebra-compatible thermal printers (203 dpi, 8 dots/mm): the printer draws the
// DataMatrix (^BX, ECC 200) or Code 128 (^BC) from the barcode itself and the text in its scalable
// font 0. Field data goes through ^FH so a ^, ~ or _ in a barcode or a box name stays data.
import type { Layout } from './labels.layout.js';

export const ZPL_DPI = 203;

const escapeField = (text: string) =>
  text.replace(/[_^~]/g, (ch) => `_${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/** One ^XA ... ^XZ label. */
export function toZpl(layout: Layout, barcode: string): string {
  const out = ['^XA', '^CI28', `^PW${layout.width}`, `^LL${layout.height}`, '^LH0,0'];
  if (layout.matrix) {
    out.push(
      `^FO${layout.symbolX},${layout.symbolY}^BXN,${layout.module},200^FH_^FD${escapeField(barcode)}^FS`,
    );
  } else if (layout.bars) {
    out.push(
      `^FO${layout.symbolX},${layout.symbolY}^BY${layout.module}` +
        `^BCN,${layout.bars.height},N,N,N,A^FH_^FD${escapeField(barcode)}^FS`,
    );
  }
  for (const line of layout.lines) {
    // ^FO places the top of the text; the layout gives its baseline. ^FB cuts it to the room left.
    out.push(
      `^FO${line.x},${line.y - line.size}^A0N,${line.size},${Math.round(line.size * 0.6)}` +
        `^FB${line.maxWidth},1,0,L^FH_^FD${escapeField(line.text)}^FS`,
    );
  }
  out.push('^XZ');
  return out.join('\n') + '\n';
}
