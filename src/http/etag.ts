import type { FastifyReply } from 'fastify';
import { ifMatchRequired, versionMismatch } from '../errors.js';
import type { ExpectedVersion } from '../versions.js';

/** Weak ETag carrying the aggregate version (STYLE.md rule 8). */
export const etag = (version: number) => `W/"${version}"`;

/**
 * Sends the ETag of an answer whose body is one versioned resource (create, read, update, an
 * action's result), so an integration script can send If-Match without reading it again.
 */
export async function withEtag<T extends { version: number }>(
  reply: FastifyReply,
  body: Promise<T>,
): Promise<T> {
  const b = await body;
  reply.header('etag', etag(b.version));
  return b;
}

/**
 * The version an update expects, from If-Match. Missing -> 428; unreadable -> 412 (it cannot
 * match any version we issued). A stale one is refused by the service as 412 too. `*` matches any
 * current version (RFC 9110 13.1.1), which the service resolves under its lock.
 */
export function preconditionVersion(ifMatch: string | undefined): ExpectedVersion {
  if (!ifMatch) {
    throw ifMatchRequired();
  }
  if (ifMatch.trim() === '*') return '*';
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(ifMatch.trim());
  if (!m?.[1]) {
    throw versionMismatch(ifMatch);
  }
  return Number(m[1]);
}

/** The version an upsert expects: none without If-Match (the body wins), else as an update's. */
export function optionalPreconditionVersion(ifMatch: string | undefined): ExpectedVersion | undefined {
  return ifMatch === undefined ? undefined : preconditionVersion(ifMatch);
}

/** An upsert's answer headers: 201 with the new resource's Location when it created, its ETag always. */
export function answerUpsert(reply: FastifyReply, created: boolean, location: string, version: number): void {
  if (created) reply.code(201).header('location', location);
  reply.header('etag', etag(version));
}
