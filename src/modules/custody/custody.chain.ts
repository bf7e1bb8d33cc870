import { createHash } from 'node:crypto';

// The custody hash chain. Pure: the same function hashes on append and on verification.

export interface ChainedEventFields {
  specimenId: string;
  institutionId: string;
  seq: number;
  type: string;
  occurredAt: Date;
  recordedAt: Date;
  actor: string;
  /** 1: the canonical form without the actor's identity (events recorded before it was kept); 2: with it */
  hashVersion: number;
  actorName: string | null;
  actorRole: string | null;
  actorInstitutionCode: string | null;
  requestId: string;
  fromContainerId: string | null;
  fromPosition: string | null;
  toContainerId: string | null;
  toPosition: string | null;
  /** as stored: numeric(14,4) */
  quantityChange: string | number | null;
  details: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth, so equal events always serialise alike. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Quantities hash in the stored scale (4 decimals), whatever form they arrive in. */
export const canonicalQuantity = (q: string | number | null) => (q === null ? null : Number(q).toFixed(4));

/** The canonical form a new event is hashed in. */
export const CURRENT_HASH_VERSION = 2;

/** A scalar (string, number, boolean, null) as `canonicalJson` writes it. */
const scalar = (value: unknown) => JSON.stringify(value ?? null);

/** `,"key":value` as `canonicalJson` writes a member of a scalar, or nothing when it is undefined. */
const member = (key: string, value: unknown) => (value === undefined ? '' : `,"${key}":${scalar(value)}`);

/**
 * The canonical form of an event: `canonicalJson` of the object below, written out member by member
 * in its sorted key order (the same bytes, without sorting fourteen keys per event: a file import
 * hashes two million events). `custody.chain.test.ts` holds it equal to the generic form.
 *
 *   { hashVersion, actorIdentity: { name, role, institutionCode } (version 2 only), specimenId,
 *     institutionId, seq, type, occurredAt, recordedAt, actor, requestId,
 *     from: [fromContainerId, fromPosition], to: [toContainerId, toPosition], quantityChange, details }
 */
export function canonicalEvent(e: ChainedEventFields): string {
  const who =
    member('institutionCode', e.actorInstitutionCode) +
    member('name', e.actorName) +
    member('role', e.actorRole);
  const identity = e.hashVersion === 1 ? '' : `,"actorIdentity":{${who.slice(1)}}`;
  const body =
    member('actor', e.actor) +
    identity +
    `,"details":${canonicalJson(e.details)}` +
    `,"from":[${scalar(e.fromContainerId)},${scalar(e.fromPosition)}]` +
    (e.hashVersion === 1 ? '' : member('hashVersion', e.hashVersion)) +
    member('institutionId', e.institutionId) +
    `,"occurredAt":${scalar(e.occurredAt.toISOString())}` +
    `,"quantityChange":${scalar(canonicalQuantity(e.quantityChange))}` +
    `,"recordedAt":${scalar(e.recordedAt.toISOString())}` +
    member('requestId', e.requestId) +
    member('seq', e.seq) +
    member('specimenId', e.specimenId) +
    `,"to":[${scalar(e.toContainerId)},${scalar(e.toPosition)}]` +
    member('type', e.type);
  return `{${body.slice(1)}}`;
}

/**
 * Timestamps hash at millisecond precision, as PostgreSQL keeps microseconds but JS has ms. Each
 * event is hashed in the form its `hashVersion` names, so chains recorded before the actor's
 * identity was kept still verify while every newer event covers it.
 */
export function eventHash(prevHash: string | null, e: ChainedEventFields): string {
  if (e.hashVersion !== 1 && e.hashVersion !== 2)
    throw new Error(`unknown custody hash version ${e.hashVersion}`);
  return createHash('sha256')
    .update(prevHash ?? '')
    .update('\n')
    .update(canonicalEvent(e))
    .digest('hex');
}

export interface ChainBreak {
  seq: number;
  eventId: number;
  reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'sequence_gap';
  expected: string;
  found: string;
}

/**
 * Recomputes a chain in sequence order; returns the first break, or null when intact. With `from`
 * (a head verified before: its seq and hash) the events are the chain's continuation after it, so
 * a check after a change costs the new events only; `checked` then counts the head's events too.
 */
export function verifyChain(
  events: (ChainedEventFields & { id: number; prevHash: string | null; hash: string })[],
  from: { seq: number; hash: string } | null = null,
): {
  checked: number;
  firstBreak: ChainBreak | null;
} {
  let prev: string | null = from?.hash ?? null;
  let expectedSeq = (from?.seq ?? 0) + 1;
  for (const e of events) {
    if (e.seq !== expectedSeq) {
      return {
        checked: expectedSeq - 1,
        firstBreak: {
          seq: expectedSeq,
          eventId: e.id,
          reason: 'sequence_gap',
          expected: String(expectedSeq),
          found: String(e.seq),
        },
      };
    }
    if (e.prevHash !== prev) {
      return {
        checked: e.seq - 1,
        firstBreak: {
          seq: e.seq,
          eventId: e.id,
          reason: 'prev_hash_mismatch',
          expected: prev ?? '',
          found: e.prevHash ?? '',
        },
      };
    }
    const recomputed = eventHash(prev, e);
    if (recomputed !== e.hash) {
      return {
        checked: e.seq - 1,
        firstBreak: {
          seq: e.seq,
          eventId: e.id,
          reason: 'hash_mismatch',
          expected: recomputed,
          found: e.hash,
        },
      };
    }
    prev = e.hash;
    expectedSeq++;
  }
  return { checked: expectedSeq - 1, firstBreak: null };
}
