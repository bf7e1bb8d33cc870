// mercurius is CommonJS: Node's ESM loader sees only its default export (named imports fail at run time).
import mercurius, { type IResolvers, type MercuriusContext } from 'mercurius';
import { z } from 'zod';
import { parseArgs } from '../../graphql/adapter.js';
import { codedSubscribe, subscriberCtx } from '../../graphql/subscriptions.js';
import type { SharingRequestUpdate } from './sharing.dto.js';

// GraphQL subscription over the sharing requests: the service checks the subscriber (and the one
// request it names) and answers its institution's topic; the notifications publish to it, through
// Redis, the request as that institution's side sees it (sharing.notify.ts).

const subscribeArgs = z.object({ id: z.uuid().optional() }).strict();

export const sharingSubscriptionResolvers: IResolvers = {
  Subscription: {
    sharingRequestUpdated: {
      subscribe: mercurius.withFilter<
        SharingRequestUpdate,
        unknown,
        MercuriusContext,
        { id?: string | null }
      >(
        codedSubscribe(async (_root: unknown, args: unknown, context: MercuriusContext) => {
          const { id } = parseArgs(subscribeArgs, args);
          const { topic } = await context.services.sharing.subscribeSharingRequestUpdated(
            subscriberCtx(context),
            id === undefined ? {} : { id },
          );
          return context.pubsub.subscribe(topic);
        }),
        (payload, args) => !args.id || payload.request.id === args.id,
      ),
      // The published payload is already the field's value.
      resolve: (payload: SharingRequestUpdate) => payload,
    },
  },
};
