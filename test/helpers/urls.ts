import { parseConfig } from '../../src/config.js';

/** The local server of DATABASE_URL (default 127.0.0.1:5432), with another database name. */
export function databaseUrl(name: string): string {
  const url = new URL(parseConfig(process.env).DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export const adminUrl = () => databaseUrl('postgres');

/** `bbt_<kind>_<unix seconds>_<random>`: the time lets a later run drop what an interrupted one left. */
export const testDatabaseName = (kind: string, random: string) =>
  `bbt_${kind}_${Math.floor(Date.now() / 1000)}_${random}`;

export function testDatabaseAgeSeconds(name: string): number | null {
  const m = /^bbt_[a-z]+_(\d+)_/.exec(name);
  return m?.[1] ? Math.floor(Date.now() / 1000) - Number(m[1]) : null;
}
