// A container map as SVG, for people who look at a box rather than read its JSON: the grid with
// row and column labels, each tube coloured by specimen type or status, holds ringed in red, empty
// positions plain, a legend, and each position's barcode, type, status and holds in its <title>
// (the browser's tooltip). Every text from the database is escaped: a barcode is data, not markup.
import type { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import type { ContainerMap, MapOccupant } from './storage.dto.js';
import { rowLetters } from './grid.js';

export const MAP_COLOUR_BY = ['type', 'status'] as const;
export type MapColourBy = (typeof MAP_COLOUR_BY)[number];

const CELL = 36;
const RADIUS = 14;
const HEADER = 28;
const PAD = 12;
const LEGEND_ROW = 20;
const HOLD = '#c00000';
const EMPTY_FILL = '#ffffff';
const EMPTY_STROKE = '#9e9e9e';
const BOX_FILL = '#8d6e63';

/** Blood products in reds and ambers, cells and tissue in browns and greens, analytes in blues. */
const TYPE_COLOURS: Record<(typeof SPECIMEN_TYPES)[number], string> = {
  whole_blood: '#b71c1c',
  plasma: '#fbc02d',
  plasma_double_spun: '#f9a825',
  serum: '#ff8f00',
  buffy_coat: '#d7ccc8',
  pbmc: '#f06292',
  red_blood_cells: '#e53935',
  bone_marrow: '#880e4f',
  cord_blood: '#c62828',
  urine: '#fff176',
  saliva: '#b2ebf2',
  sputum: '#aed581',
  csf: '#80deea',
  stool: '#6d4c41',
  fresh_frozen_tissue: '#8e24aa',
  oct_tissue: '#ab47bc',
  ffpe_block: '#ffcc80',
  ffpe_slide: '#ffe0b2',
  dna: '#1565c0',
  rna: '#5e35b1',
  cfdna: '#42a5f5',
  protein: '#00897b',
};

const STATUS_COLOURS: Record<string, string> = {
  pending: '#bdbdbd',
  available: '#43a047',
  in_use: '#1e88e5',
  reserved: '#fb8c00',
  shipped: '#8e24aa',
  distributed: '#6d4c41',
  consumed: '#757575',
  destroyed: '#212121',
  missing: '#e53935',
};

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch]!,
  );
}

/** The colour of an occupant, and the legend entry it belongs to. */
export function colourOf(o: MapOccupant, by: MapColourBy): { key: string; colour: string } {
  if (o.kind === 'container') return { key: 'box', colour: BOX_FILL };
  const key = (by === 'type' ? o.type : o.status) ?? 'unknown';
  const palette: Record<string, string> = by === 'type' ? TYPE_COLOURS : STATUS_COLOURS;
  return { key, colour: palette[key] ?? '#9e9e9e' };
}

function tooltip(position: string, o: MapOccupant | null): string {
  if (!o) return `${position}: empty`;
  if (o.kind === 'container') return `${position}: box ${o.barcode}`;
  const holds = o.holds?.length ? `, on hold: ${o.holds.join(', ')}` : '';
  return `${position}: ${o.barcode}, ${o.type ?? ''}, ${o.status ?? ''}${holds}`;
}

export function containerMapSvg(map: ContainerMap, by: MapColourBy): string {
  const { rows, cols, scheme, container } = map;
  const gridLeft = PAD + HEADER;
  const gridTop = PAD + HEADER + HEADER;
  const legendEntries = new Map<string, string>();
  let anyHold = false;
  const cells: string[] = [];
  for (const p of map.positions) {
    const cx = gridLeft + (p.col - 1) * CELL + CELL / 2;
    const cy = gridTop + (p.row - 1) * CELL + CELL / 2;
    const title = `<title>${escapeXml(tooltip(p.position, p.occupant))}</title>`;
    const attrs = `data-position="${escapeXml(p.position)}"`;
    if (!p.occupant) {
      cells.push(
        `<g class="empty" ${attrs}>${title}<circle cx="${cx}" cy="${cy}" r="${RADIUS}" fill="${EMPTY_FILL}" stroke="${EMPTY_STROKE}" stroke-width="1"/></g>`,
      );
      continue;
    }
    const { key, colour } = colourOf(p.occupant, by);
    legendEntries.set(key, colour);
    const held = (p.occupant.holds?.length ?? 0) > 0;
    anyHold ||= held;
    const stroke = held ? `stroke="${HOLD}" stroke-width="4"` : 'stroke="#424242" stroke-width="1"';
    const shape =
      p.occupant.kind === 'container'
        ? `<rect x="${cx - RADIUS}" y="${cy - RADIUS}" width="${2 * RADIUS}" height="${2 * RADIUS}" fill="${colour}" ${stroke}/>`
        : `<circle cx="${cx}" cy="${cy}" r="${RADIUS}" fill="${colour}" ${stroke}/>`;
    cells.push(`<g class="${held ? 'occupied held' : 'occupied'}" ${attrs}>${title}${shape}</g>`);
  }

  const headers: string[] = [];
  for (let c = 1; c <= cols; c++)
    headers.push(
      `<text x="${gridLeft + (c - 1) * CELL + CELL / 2}" y="${gridTop - 8}" text-anchor="middle">${c}</text>`,
    );
  for (let r = 1; r <= rows; r++) {
    // Numeric grids number positions across rows; their row header is the first position's number.
    const label = scheme === 'alphanumeric' ? rowLetters(r) : String((r - 1) * cols + 1);
    headers.push(
      `<text x="${gridLeft - 8}" y="${gridTop + (r - 1) * CELL + CELL / 2 + 4}" text-anchor="end">${label}</text>`,
    );
  }

  const legend = [...legendEntries.entries()].sort(([a], [b]) => a.localeCompare(b));
  const legendItems: [string, string, boolean][] = legend.map(([k, c]) => [k.replace(/_/g, ' '), c, false]);
  if (anyHold) legendItems.push(['on hold', HOLD, true]);
  legendItems.push(['empty', EMPTY_FILL, false]);
  const legendLeft = gridLeft + cols * CELL + PAD * 2;
  const legendSvg = legendItems.map(([label, colour, ring], i) => {
    const y = gridTop + i * LEGEND_ROW;
    const swatch = ring
      ? `<circle cx="${legendLeft + 7}" cy="${y + 7}" r="6" fill="none" stroke="${colour}" stroke-width="3"/>`
      : `<circle cx="${legendLeft + 7}" cy="${y + 7}" r="6" fill="${colour}" stroke="#424242" stroke-width="1"/>`;
    return `<g class="legend">${swatch}<text x="${legendLeft + 20}" y="${y + 11}">${escapeXml(label)}</text></g>`;
  });

  const width = legendLeft + 180;
  const height = Math.max(gridTop + rows * CELL, gridTop + legendItems.length * LEGEND_ROW) + PAD;
  const heading = `${container.kind} ${container.barcode}: ${map.occupied} of ${rows * cols} positions occupied, coloured by ${by}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(heading)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${PAD}" y="${PAD + 14}" font-size="14" font-weight="bold">${escapeXml(heading)}</text>`,
    `<rect x="${gridLeft}" y="${gridTop}" width="${cols * CELL}" height="${rows * CELL}" fill="#f5f5f5" stroke="#616161"/>`,
    ...headers,
    ...cells,
    ...legendSvg,
    `</svg>`,
  ].join('\n');
}
