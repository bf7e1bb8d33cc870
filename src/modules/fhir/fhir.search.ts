// The Specimen search parameters (FHIR R4 search, section 3.1.1): parsed strictly, so a misspelt
// parameter is a 400 instead of an unfiltered answer. Pure.
import { validationFailed, type FieldProblem } from '../../errors.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import { classifyIdentifier, type IdentifierTarget } from './fhir-specimen.input.js';
import { typesOfCoding } from './fhir.vocabulary.js';

export const DEFAULT_COUNT = 100;
/** Larger pages are cut to this (FHIR lets a server return fewer than `_count`). */
export const MAX_COUNT = 500;

export const SEARCH_PARAMETERS = ['identifier', 'type', '_lastUpdated'] as const;
/** Parameters that shape the answer rather than filter it. */
const RESULT_PARAMETERS = ['_count', '_cursor', '_format', '_pretty', '_summary', '_total'] as const;
const JSON_FORMATS = ['json', 'application/json', 'application/fhir+json', 'application/json+fhir'];

/** A bound on the last update: `>=` or `<` an instant (ISO 8601, UTC). */
export interface TimeBound {
  op: '>=' | '<';
  at: string;
}

export interface SpecimenSearchQuery {
  /** null: no identifier filter; otherwise any of these */
  identifiers: IdentifierTarget[] | null;
  /** null: any type; an empty list matches nothing (codes unknown here) */
  types: SpecimenType[] | null;
  lastUpdated: TimeBound[];
  count: number;
  /**
   * `page`: a page of entries; `count`: the number of matches alone, no entries (`_summary=count`,
   * or `_count=0`); `page+total`: a page that also carries the number of matches (`_total`).
   */
  answer: 'page' | 'count' | 'page+total';
  cursor?: string;
  /** the filter parameters as given, for the Bundle's links */
  filters: [string, string][];
}

type Query = Record<string, string | string[] | undefined>;

/** Splits a parameter value on `sep` where it is not escaped with a backslash, and unescapes. */
export function splitEscaped(value: string, sep: ',' | '|'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) current += value[++i];
    else if (ch === sep) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}
/** As splitEscaped for `,`, keeping escapes for a later split on `|`. */
function splitList(value: string): string[] {
  return value.split(/(?<!\\),/);
}

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/** The range of instants a FHIR date or dateTime stands for, by its precision: [start, end). */
export function dateRange(value: string): { start: Date; end: Date } | null {
  const m = DATE.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  // FHIR's years are 0001 to 9999.
  if (year < 1) return null;
  const month = mo === undefined ? 0 : Number(mo) - 1;
  const day = d === undefined ? 1 : Number(d);
  const date = utcDate(year, month, day);
  // Date.UTC rolls 2024-02-30 over into March: a date that does not exist is refused.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day)
    return null;
  if (h !== undefined) {
    if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return null;
    const start = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ? `.${frac}` : ''}${zone}`);
    if (Number.isNaN(start.getTime())) return null;
    const step = frac ? 10 ** (3 - frac.length) : 1000;
    return { start, end: new Date(start.getTime() + step) };
  }
  const start = date;
  const end =
    d !== undefined
      ? utcDate(year, month, day + 1)
      : mo !== undefined
        ? utcDate(year, month + 1, 1)
        : utcDate(year + 1, 0, 1);
  return { start, end };
}

/** Midnight UTC of a day, rolled over as Date.UTC does, but with years 0 to 99 as they are. */
function utcDate(year: number, month: number, day: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date;
}

/**
 * An instant as PostgreSQL reads it: past the end of year 9999, or before year 1 (a bound in a
 * time zone west or east of UTC), is beyond what an ISO text can say to it, and no update happens
 * there anyway.
 */
const instantText = (instant: Date) =>
  instant.getUTCFullYear() > 9999
    ? 'infinity'
    : instant.getUTCFullYear() < 1
      ? '-infinity'
      : instant.toISOString();

const PREFIXES = ['eq', 'gt', 'lt', 'ge', 'le'] as const;

function timeBounds(raw: string, problems: FieldProblem[]): TimeBound[] {
  const sent = /^[a-z]{2}/.exec(raw)?.[0];
  const prefix = PREFIXES.find((p) => p === sent);
  if (sent !== undefined && prefix === undefined) {
    problems.push({ field: '_lastUpdated', message: `prefix ${sent} is not supported (eq, gt, ge, lt, le)` });
    return [];
  }
  const value = prefix ? raw.slice(2) : raw;
  const range = dateRange(value);
  if (!range) {
    problems.push({
      field: '_lastUpdated',
      message: `${value} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) or dateTime with seconds and time zone`,
    });
    return [];
  }
  const start = instantText(range.start);
  const end = instantText(range.end);
  switch (prefix ?? 'eq') {
    case 'eq':
      return [
        { op: '>=', at: start },
        { op: '<', at: end },
      ];
    case 'ge':
      return [{ op: '>=', at: start }];
    case 'gt':
      return [{ op: '>=', at: end }];
    case 'le':
      return [{ op: '<', at: end }];
    default:
      return [{ op: '<', at: start }];
  }
}

/**
 * Parses `GET Specimen?...`: `identifier` (system|value, comma for alternatives), `type` (code or
 * system|code, comma for alternatives), `_lastUpdated` (repeatable, prefixes eq ge gt le lt),
 * `_count` (0: the count alone), `_cursor`, `_summary` (count or false), `_total` (none, estimate or
 * accurate: the page carries the number of matches), `_format` (JSON only), `_pretty`. Throws VALIDATION_FAILED naming every
 * parameter it cannot use, an unknown one included.
 */
export function parseSpecimenSearch(query: Query): SpecimenSearchQuery {
  const problems: FieldProblem[] = [];
  const filters: [string, string][] = [];
  const once = (name: string): string | undefined => {
    const v = query[name];
    if (Array.isArray(v)) {
      problems.push({ field: name, message: 'give it once (a comma separates alternatives)' });
      return undefined;
    }
    return v;
  };
  for (const name of Object.keys(query))
    if (![...SEARCH_PARAMETERS, ...RESULT_PARAMETERS].some((p) => p === name))
      problems.push({
        field: name,
        message: `unknown search parameter; Specimen supports ${[...SEARCH_PARAMETERS, ...RESULT_PARAMETERS].join(', ')}`,
      });

  let identifiers: IdentifierTarget[] | null = null;
  const identifier = once('identifier');
  if (identifier !== undefined) {
    filters.push(['identifier', identifier]);
    identifiers = [];
    for (const token of splitList(identifier)) {
      const parts = splitEscaped(token, '|');
      if (parts.length !== 2 || !parts[0] || !parts[1]) {
        problems.push({ field: 'identifier', message: `${token} is not system|value` });
        continue;
      }
      const t = classifyIdentifier(parts[0], parts[1]);
      if (typeof t === 'string') problems.push({ field: 'identifier', message: t });
      else identifiers.push(t);
    }
  }

  let types: SpecimenType[] | null = null;
  const type = once('type');
  if (type !== undefined) {
    filters.push(['type', type]);
    const all = new Set<SpecimenType>();
    for (const token of splitList(type)) {
      const parts = splitEscaped(token, '|');
      // `code` is any system, `system|code` that one, and `|code` a code with no system (FHIR
      // token search): every coding of ours has a system, so that matches none.
      const [system, code] = parts.length === 2 ? [parts[0], parts[1]] : [undefined, parts[0]];
      if (parts.length > 2 || !code)
        problems.push({ field: 'type', message: `${token} is not code or system|code` });
      else typesOfCoding(system, code).forEach((t) => all.add(t));
    }
    types = [...all];
  }

  const lastUpdated: TimeBound[] = [];
  const lu = query._lastUpdated;
  for (const raw of lu === undefined ? [] : Array.isArray(lu) ? lu : [lu]) {
    filters.push(['_lastUpdated', raw]);
    lastUpdated.push(...timeBounds(raw, problems));
  }

  let count = DEFAULT_COUNT;
  let answer: SpecimenSearchQuery['answer'] = 'page';
  const c = once('_count');
  if (c !== undefined) {
    if (!/^\d{1,9}$/.test(c)) problems.push({ field: '_count', message: 'a whole number from 0' });
    else if (Number(c) === 0) answer = 'count';
    else count = Math.min(Number(c), MAX_COUNT);
  }
  // `_total=estimate` gets the exact number too: FHIR lets a server give more than asked.
  const total = once('_total');
  if (total !== undefined && !['none', 'estimate', 'accurate'].includes(total))
    problems.push({ field: '_total', message: 'none, estimate or accurate' });
  else if (total === 'estimate' || total === 'accurate') answer = answer === 'count' ? 'count' : 'page+total';
  const summary = once('_summary');
  if (summary !== undefined && summary !== 'count' && summary !== 'false')
    problems.push({
      field: '_summary',
      message: 'count (the number of matches alone) or false; entries are always whole resources',
    });
  else if (summary === 'count') answer = 'count';
  const cursor = once('_cursor');
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > 500))
    problems.push({ field: '_cursor', message: 'use the next link as it was given' });
  const format = once('_format');
  if (format !== undefined && !JSON_FORMATS.includes(format))
    problems.push({ field: '_format', message: 'this service answers JSON only (application/fhir+json)' });
  once('_pretty');

  if (answer === 'count' && cursor !== undefined)
    problems.push({ field: '_cursor', message: 'a count has no pages: leave _cursor out' });
  if (problems.length) throw validationFailed(problems);
  return {
    identifiers,
    types,
    lastUpdated,
    count,
    answer,
    ...(cursor !== undefined ? { cursor } : {}),
    filters,
  };
}

/** `_format` and `_pretty` on a read or the capability statement: JSON only, nothing else. */
export function checkReadParameters(query: Query): void {
  const problems: FieldProblem[] = [];
  for (const [name, v] of Object.entries(query)) {
    if (name === '_pretty') continue;
    if (name !== '_format')
      problems.push({ field: name, message: 'unknown parameter (only _format, _pretty)' });
    else if (typeof v !== 'string' || !JSON_FORMATS.includes(v))
      problems.push({ field: '_format', message: 'this service answers JSON only (application/fhir+json)' });
  }
  if (problems.length) throw validationFailed(problems);
}
