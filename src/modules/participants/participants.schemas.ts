import { z } from 'zod';
import { pageQuery } from '../../pagination.js';

// Participant schemas REST and GraphQL both validate with (the protocol and participant inputs
// live in participants.service.ts).

/** A page of participants, of one protocol if given. */
export const listParticipantsQuery = pageQuery.extend({ protocolId: z.uuid().optional() });
