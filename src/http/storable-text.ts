import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { findUnstorableText } from '../db/storable-text.js';
import { validationFailed } from '../errors.js';

/**
 * preValidation hook for every REST route: path parameters, query and body hold only text
 * PostgreSQL stores. Throws VALIDATION_FAILED naming the first offending field.
 */
export function refuseUnstorableText(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  // Callback style: the scan lookup runs this on every scan, and needs no promise for it.
  const found =
    findUnstorableText(request.params, 'params') ??
    findUnstorableText(request.query, 'querystring') ??
    findUnstorableText(request.body, 'body');
  done(found ? validationFailed([found]) : undefined);
}
