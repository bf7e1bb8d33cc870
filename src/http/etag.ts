import { DomainError } from '../errors.js';

/** Weak ETag carrying the aggregate version (STYLE.md rule 8). */
export const etag = (version: number) => `W/"${version}"`;

/**
 * The version an update expects, from If-Match. Missing -> 428; unreadable -> 412 (it cannot
 * match any version we issued). A stale one is refused by the service as 412 too.
 */
export function preconditionVersion(ifMatch: string | undefined): number {
  if (!ifMatch) {
    throw new DomainError(
      'precondition_required',
      'IF_MATCH_REQUIRED',
      'send If-Match with the ETag you last read',
    );
  }
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(ifMatch.trim());
  if (!m?.[1]) {
    throw new DomainError(
      'precondition_failed',
      'VERSION_MISMATCH',
      `If-Match ${ifMatch} is not an ETag this service issued`,
    );
  }
  return Number(m[1]);
}
