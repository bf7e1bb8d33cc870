import type { Ctx } from '../../context.js';
import { authorize } from '../../auth/roles.js';
import { decodeSprec, type SprecDecodeResult } from './sprec.js';
import { sprecCodeEmpty, sprecVersionUnsupported } from './standards.errors.js';
import { SPREC_VERSIONS, isSprecVersion } from './sprec.vocabulary.js';
import type { SprecDecodeQuery } from './standards.schemas.js';

/** Decoding SPREC codes on request (no I/O: the vocabulary is in memory). */
export function createSprecDecodeService() {
  return {
    /**
     * Decodes a SPREC code field by field, or gives the position and reason it is invalid.
     * Throws SPREC_CODE_EMPTY, SPREC_VERSION_UNSUPPORTED.
     */
    async decodeSprec(ctx: Ctx, q: SprecDecodeQuery): Promise<SprecDecodeResult> {
      authorize(ctx.actor, 'standards.read');
      if (!isSprecVersion(q.version)) {
        throw sprecVersionUnsupported(q.version, SPREC_VERSIONS);
      }
      if (q.code.trim().length === 0) {
        throw sprecCodeEmpty();
      }
      return decodeSprec(q.code.trim(), q.version, q.kind ? { expectedKind: q.kind } : {});
    },
  };
}
