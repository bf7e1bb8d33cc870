import type { DbOrTx } from '../../db/client.js';
import { DomainError } from '../../errors.js';
import { findProtocol, type ProtocolRow } from '../participants/index.js';

/**
 * The institution's protocol by id (with `lock`, FOR UPDATE), as quality rules and run filters name
 * it. Throws PROTOCOL_NOT_FOUND on the protocolId field.
 */
export async function ownProtocol(
  handle: DbOrTx,
  institutionId: string,
  id: string,
  lock = false,
): Promise<ProtocolRow> {
  const row = await findProtocol(handle, institutionId, id, { lock });
  if (!row)
    throw new DomainError('not_found', 'PROTOCOL_NOT_FOUND', `protocol ${id} was not found`, [
      { field: 'protocolId', message: 'unknown protocol' },
    ]);
  return row;
}
