import type { IResolvers, MercuriusContext, MercuriusLoaders } from 'mercurius';

// The modules' loaders (`(queries, ctx) => results`, one result per query, an Error for one that
// failed alone) run as plain resolvers that batch per request and per tick, instead of through
// Mercurius' loader cache: that cache keys every call by `safe-stable-stringify` of its parent
// object, which for a page of 100 specimens stringified each DTO once per relation asked (16 % of
// the page's CPU, issue 16). Nothing needs the cache: each loader already asks for distinct ids
// once, so a batch of 100 calls on one parent is still one statement.

type Query = { obj: unknown; params: unknown };
type LoaderFn = (queries: Query[], ctx: MercuriusContext) => Promise<unknown[]>;

interface Batch {
  queries: Query[];
  settle: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[];
}

const PRELOADED = Symbol('biobank.preloaded');

/**
 * Gives `obj` the value of its relation `field`, read with it in the same statement (a page that
 * asked for its relations up front): the field's loader then answers it without a statement.
 */
export function preload<T extends object>(obj: T, field: string, value: unknown): T {
  const o = obj as T & { [PRELOADED]?: Record<string, unknown> };
  (o[PRELOADED] ??= {})[field] = value;
  return obj;
}

function preloaded(obj: unknown, field: string): { value: unknown } | undefined {
  const pre = (obj as { [PRELOADED]?: Record<string, unknown> } | null)?.[PRELOADED];
  return pre && field in pre ? { value: pre[field] } : undefined;
}

/**
 * A resolver that gathers every call made on one context in the same tick into one loader call;
 * a parent that holds its `field` preloaded is answered at once.
 */
export function batchedResolver(loader: LoaderFn, field = '') {
  const open = new WeakMap<object, Batch>();
  const run = (ctx: MercuriusContext, batch: Batch) => {
    open.delete(ctx);
    loader(batch.queries, ctx).then(
      (results) => {
        if (!Array.isArray(results) || results.length !== batch.queries.length) {
          const err = new Error('a loader answered a different number of results than it was asked');
          for (const s of batch.settle) s.reject(err);
          return;
        }
        for (let i = 0; i < results.length; i++) batch.settle[i]!.resolve(results[i]);
      },
      (err: unknown) => {
        for (const s of batch.settle) s.reject(err);
      },
    );
  };
  return (obj: unknown, params: unknown, ctx: MercuriusContext): unknown => {
    const known = field ? preloaded(obj, field) : undefined;
    if (known) return known.value;
    let batch = open.get(ctx);
    if (!batch) {
      const created: Batch = { queries: [], settle: [] };
      batch = created;
      open.set(ctx, created);
      // After the current microtasks: every sibling of a list resolves its field before then.
      process.nextTick(() => run(ctx, created));
    }
    batch.queries.push({ obj, params });
    const b = batch;
    return new Promise((resolve, reject) => b.settle.push({ resolve, reject }));
  };
}

/** The loaders map as batched resolvers, to merge with the other resolvers. */
export function batchedLoaders(loaders: MercuriusLoaders): IResolvers {
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const [type, fields] of Object.entries(loaders)) {
    resolvers[type] = {};
    for (const [field, def] of Object.entries(fields as Record<string, unknown>)) {
      const fn = (typeof def === 'function' ? def : (def as { loader: unknown }).loader) as LoaderFn;
      resolvers[type][field] = batchedResolver(fn, field);
    }
  }
  return resolvers as IResolvers;
}
