import type { Ctx } from '../../context.js';
import { authorize } from '../../auth/roles.js';
import { badRequest } from '../../errors.js';
import { decodeSprec, type SprecDecodeResult } from './sprec.js';
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
        throw badRequest(
          'SPREC_VERSION_UNSUPPORTED',
          `SPREC version '${q.version}' is not supported; use one of ${SPREC_VERSIONS.join(', ')}`,
          [{ field: 'version', message: `one of ${SPREC_VERSIONS.join(', ')}` }],
        );
      }
      if (q.code.trim().length === 0) {
        throw badRequest(
          'SPREC_CODE_EMPTY',
          'the code is empty; a SPREC code has 7 elements separated by "-"',
          [{ field: 'code', message: 'empty' }],
        );
      }
      return decodeSprec(q.code.trim(), q.version, q.kind ? { expectedKind: q.kind } : {});
    },
  };
}
