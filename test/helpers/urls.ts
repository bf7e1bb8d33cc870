import { parseConfig } from '../../src/config.js';

export const TEMPLATE_DB = 'biobank_test_template';

/** The local server of DATABASE_URL (default 127.0.0.1:5432), with another database name. */
export function databaseUrl(name: string): string {
  const url = new URL(parseConfig(process.env).DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export const adminUrl = () => databaseUrl('postgres');
