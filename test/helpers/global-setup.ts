import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../src/db/migrate.js';
import { adminUrl, databaseUrl, testDatabaseName, testDatabaseAgeSeconds } from './urls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

async function withAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Migrates a template database for this run (its own name, so concurrent runs never collide);
 * each test file clones it with CREATE DATABASE ... TEMPLATE.
 */
export default async function setup(project: TestProject) {
  const template = testDatabaseName('tpl', randomBytes(4).toString('hex'));
  await withAdmin(async (admin) => {
    // Databases left behind by interrupted runs more than two hours ago.
    const all = await admin.query<{ datname: string }>(
      "select datname from pg_database where datname like 'bbt_%'",
    );
    for (const { datname } of all.rows) {
      const age = testDatabaseAgeSeconds(datname);
      if (age !== null && age > 7200) await admin.query(`drop database if exists "${datname}" with (force)`);
    }
  });
  await migrateDatabase(databaseUrl(template));
  project.provide('templateDb', template);
  return async () => {
    await withAdmin((admin) => admin.query(`drop database if exists "${template}" with (force)`));
  };
}
