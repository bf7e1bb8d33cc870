import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { invalidCursor } from '../../errors.js';
import { encodeCursor } from '../../pagination.js';

// Change feed cursors: opaque base64url JSON `[position, mac]`, where the MAC (HMAC-SHA256 under a
// key derived from the server secret) covers the institution and the position. A cursor edited
// by hand, or minted for another institution, fails the check: INVALID_CURSOR, and nothing is
// read. Positions are global, so an unsigned one would let a caller probe other institutions'
// activity; it is never shown bare.

const MAC_BYTES = 16;
const shape = z.tuple([z.number().int().nonnegative(), z.string().max(64)]);

export interface CursorCodec {
  encode(institutionId: string, position: number): string;
  /** The position a cursor names. Throws INVALID_CURSOR (400). */
  decode(institutionId: string, cursor: string): number;
}

export function createCursorCodec(secret: string): CursorCodec {
  // Its own key: the server secret also keys MRN hashes, and the two must never be comparable.
  const key = createHmac('sha256', secret).update('biobank change feed cursor v1').digest();
  const mac = (institutionId: string, position: number) =>
    createHmac('sha256', key).update(`${institutionId}:${position}`).digest().subarray(0, MAC_BYTES);

  return {
    encode: (institutionId, position) =>
      encodeCursor([position, mac(institutionId, position).toString('base64url')]),
    decode(institutionId, cursor) {
      let parsed: z.infer<typeof shape> | undefined;
      try {
        parsed = shape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
      } catch {
        throw invalidCursor('after');
      }
      const [position, given] = parsed;
      const sent = Buffer.from(given, 'base64url');
      const expected = mac(institutionId, position);
      if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) throw invalidCursor('after');
      return position;
    },
  };
}
