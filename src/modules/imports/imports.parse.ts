// Reading an uploaded file as a stream of records: CSV (RFC 4180: quoted fields may hold commas,
// quotes doubled, line breaks) or NDJSON, gzip-compressed or not (recognised by its magic bytes, so
// a client need not say). Nothing but the current record is held: a file of any size reads in
// bounded memory. A record is a row number (the header is row 1 in CSV, the first line row 1 in
// NDJSON, as a spreadsheet or an editor shows them) and its fields by column name.
import { unstorableText } from '../../db/storable-text.js';
import { createGunzip } from 'node:zlib';
import type { PassThrough, Readable } from 'node:stream';
import { importMalformed } from './imports.errors.js';

export const IMPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** A row as read: its fields by column, or why it could not be read. */
export type ParsedRecord =
  { rowNo: number; fields: Record<string, unknown> } | { rowNo: number; malformed: string; column?: string };

/** A field longer than this is refused before it grows without end (an unterminated quote). */
const MAX_FIELD = 64 * 1024;
const MAX_LINE = 256 * 1024;

/** Decompresses when the stream starts with the gzip magic bytes (RFC 1952), else passes it on. */
async function* decoded(input: Readable): AsyncGenerator<Buffer> {
  let first: Buffer | null = null;
  let gunzip: PassThrough | ReturnType<typeof createGunzip> | null = null;
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const next = await chunks.next();
  if (next.done) return;
  first = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    gunzip = createGunzip();
    const source = gunzip;
    const feed = (async () => {
      source.write(first);
      for (;;) {
        const n = await chunks.next();
        if (n.done) break;
        if (!source.write(n.value)) await new Promise((r) => source.once('drain', r));
      }
      source.end();
    })();
    feed.catch((err: unknown) => source.destroy(err as Error));
    try {
      for await (const chunk of source) yield chunk as Buffer;
    } catch {
      throw importMalformed('the gzip stream is corrupt or truncated');
    }
    await feed;
    return;
  }
  yield first;
  for (;;) {
    const n = await chunks.next();
    if (n.done) return;
    yield Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value);
  }
}

/** Text of the stream, decoded as UTF-8 across chunk boundaries. */
async function* text(input: Readable): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of decoded(input)) yield decoder.decode(chunk, { stream: true });
    yield decoder.decode();
  } catch (err) {
    if (err instanceof TypeError) throw importMalformed('the file is not UTF-8 text');
    throw err;
  }
}

/** CSV rows as arrays of fields, each with its row number (a quoted line break stays in its row). */
async function* csvRows(input: Readable): AsyncGenerator<{ rowNo: number; cells: string[] }> {
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let rowNo = 1;
  let line = 1;
  let sawAny = false;
  let bom = true;
  for await (let chunk of text(input)) {
    if (bom) {
      if (chunk.length === 0) continue;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      bom = false;
    }
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (ch === '\n') line++;
          field += ch;
          if (field.length > MAX_FIELD)
            throw importMalformed(`row ${rowNo}: a field is longer than ${MAX_FIELD} characters`);
        }
        continue;
      }
      if (ch === '"') {
        // A doubled quote inside a quoted field, or a quote opening one.
        if (afterQuote) {
          field += '"';
          quoted = true;
          afterQuote = false;
        } else if (field.length === 0) quoted = true;
        else throw importMalformed(`row ${rowNo}: a quote inside an unquoted field`);
        sawAny = true;
        continue;
      }
      if (ch === ',') {
        cells.push(field);
        field = '';
        afterQuote = false;
        sawAny = true;
      } else if (ch === '\n') {
        // The line's last field without the CR of a CRLF ending: a line of only CRLF is blank.
        const last = field.endsWith('\r') && !afterQuote ? field.slice(0, -1) : field;
        if (sawAny || last.length > 0 || cells.length > 0) {
          cells.push(last);
          yield { rowNo, cells };
        }
        cells = [];
        field = '';
        afterQuote = false;
        sawAny = false;
        line++;
        rowNo = line;
      } else {
        if (afterQuote && ch !== '\r') throw importMalformed(`row ${rowNo}: text after a closing quote`);
        if (!afterQuote) field += ch;
        if (ch !== '\r') sawAny = true;
        if (field.length > MAX_FIELD)
          throw importMalformed(`row ${rowNo}: a field is longer than ${MAX_FIELD} characters`);
      }
    }
  }
  if (quoted) throw importMalformed(`row ${rowNo}: a quoted field is not closed before the end of the file`);
  const last = field.endsWith('\r') ? field.slice(0, -1) : field;
  if (sawAny || last.length > 0 || cells.length > 0) {
    cells.push(last);
    yield { rowNo, cells };
  }
}

/**
 * CSV records: the header names the columns (each known, none twice, every required one present;
 * otherwise 400 IMPORT_MALFORMED); a row with another number of fields is a row error. Empty
 * cells are absent values.
 */
export async function* csvRecords(
  input: Readable,
  columns: { known: readonly string[]; required: readonly string[] },
): AsyncGenerator<ParsedRecord> {
  let header: string[] | null = null;
  for await (const { rowNo, cells } of csvRows(input)) {
    if (!header) {
      header = cells.map((c) => c.trim());
      const unknown = header.filter((h) => !columns.known.includes(h));
      if (unknown.length)
        throw importMalformed(
          `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the columns are ${columns.known.join(', ')}`,
        );
      const twice = header.filter((h, i) => header!.indexOf(h) !== i);
      if (twice.length) throw importMalformed(`column ${twice[0]} appears twice in the header`);
      const missing = columns.required.filter((r) => !header!.includes(r));
      if (missing.length)
        throw importMalformed(`required column missing from the header: ${missing.join(', ')}`);
      continue;
    }
    if (cells.length !== header.length) {
      yield {
        rowNo,
        malformed: `has ${cells.length} fields; the header has ${header.length}`,
      };
      continue;
    }
    const fields: Record<string, unknown> = {};
    header.forEach((h, i) => {
      const v = cells[i]!.trim();
      if (v !== '') fields[h] = v;
    });
    yield { rowNo, fields };
  }
  if (!header) throw importMalformed('the file is empty: a header row is required');
}

/** NDJSON records: one JSON object per line; blank lines are skipped, a line that is not an object is a row error. */
export async function* ndjsonRecords(
  input: Readable,
  known: readonly string[],
): AsyncGenerator<ParsedRecord> {
  let rest = '';
  let rowNo = 0;
  let any = false;
  const one = (line: string): ParsedRecord | null => {
    rowNo++;
    const trimmed = line.trim();
    if (trimmed === '') return null;
    any = true;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      return { rowNo, malformed: 'is not valid JSON' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { rowNo, malformed: 'is not a JSON object' };
    const unknown = Object.keys(value).find((k) => !known.includes(k));
    // The name is kept in the row's error: one PostgreSQL cannot store is kept JSON-escaped.
    if (unknown)
      return {
        rowNo,
        malformed: `has an unknown field`,
        column: (unstorableText(unknown) ? JSON.stringify(unknown).slice(1, -1) : unknown).slice(0, 64),
      };
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== '') fields[k] = v;
    return { rowNo, fields };
  };
  for await (const chunk of text(input)) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const r = one(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      if (r) yield r;
    }
    if (rest.length > MAX_LINE)
      throw importMalformed(`line ${rowNo + 1} is longer than ${MAX_LINE} characters`);
  }
  const r = one(rest);
  if (r) yield r;
  if (!any) throw importMalformed('the file is empty');
}
