import pg from 'pg';
import { migrateDatabase } from '../../src/db/migrate.js';
import { TEMPLATE_DB, adminUrl, databaseUrl } from './urls.js';

/** Migrates a fresh template database once per run; each test file clones it (CREATE DATABASE ... TEMPLATE). */
export default async function setup() {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
    // Databases left by earlier, interrupted runs.
    const stale = await admin.query<{ datname: string }>(
      "select datname from pg_database where datname like 'biobank_test_f_%'",
    );
    for (const { datname } of stale.rows)
      await admin.query(`drop database if exists "${datname}" with (force)`);
  } finally {
    await admin.end();
  }
  await migrateDatabase(databaseUrl(TEMPLATE_DB));
}
