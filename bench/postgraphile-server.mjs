// PostGraphile 5 over the bench database, for `npm run bench -- graphql-page` (bench/graphql-page.ts).
// It runs from the directory PostGraphile is installed in (the bench copies it there), under the
// Node 22 that directory holds: PostGraphile 5 needs Node >= 22 and is no dependency of biobank.
// The Amber preset with simplified names; custody_event has no foreign key to specimen (the
// ledger's events outlive nothing and reference nothing), so a smart tag declares the relation,
// the one thing the database does not say. Only the bench's database is read.
//
// env: DATABASE_URL, PG_PORT, PG_POOL_SIZE
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { jsonPgSmartTags } from 'postgraphile/utils';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';

const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  plugins: [
    jsonPgSmartTags({
      version: 1,
      config: {
        class: {
          custody_event: { tags: { foreignKey: '(specimen_id) references specimen (id)' } },
        },
      },
    }),
  ],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ['public'],
      poolConfig: { max: Number(process.env.PG_POOL_SIZE ?? 4) },
    }),
  ],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
serv.addTo(server).then(
  () => {
    server.listen(Number(process.env.PG_PORT), '127.0.0.1', () => {
      console.log(`postgraphile listening on ${process.env.PG_PORT}`);
    });
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
const stop = () => {
  server.close();
  void Promise.resolve(pgl.release()).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
