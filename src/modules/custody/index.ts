export {
  appendCustodyEvents,
  actorIdentity,
  listCustodyEvents,
  custodyChainsOf,
  custodyEventsAfter,
  type CustodyEventInput,
  type ChainHead,
} from './custody.repo.js';
export { verifyChain, eventHash, type ChainBreak } from './custody.chain.js';
export { CUSTODY_EVENT_TYPES, type CustodyEventRow, type CustodyEventType } from './custody.table.js';
