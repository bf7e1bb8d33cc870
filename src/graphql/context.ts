import type { Ctx } from '../context.js';
import type { Services } from '../container.js';

declare module 'mercurius' {
  interface MercuriusContext {
    biobank: Ctx;
    services: Services;
  }
}

export type { MercuriusContext as GraphQLContext } from 'mercurius';
