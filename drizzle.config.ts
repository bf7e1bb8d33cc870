import { defineConfig } from 'drizzle-kit';

// Tables live beside their modules (DESIGN.md section 2); drizzle-kit reads them all.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/**/*.table.ts'],
  out: './migrations',
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/biobank' },
  strict: true,
});
