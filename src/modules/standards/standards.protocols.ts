import type { DbOrTx } from '../../db/client.js';
import { findProtocol, protocolNotFound, type ProtocolRow } from '../participants/index.js';

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
  if (!row) throw protocolNotFound(id, 'protocolId');
  return row;
}
