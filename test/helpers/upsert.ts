import type { LightMyRequestResponse } from 'fastify';
import { bearer, type TestApp } from './test-app.js';

// Shared by the upsert test files: a PUT as some key, and what a write of an entity leaves behind.

export function putAs(t: TestApp, key: string) {
  return (
    url: string,
    payload: unknown,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method: 'PUT',
      url,
      headers: { ...bearer(key), ...headers },
      payload: payload as Record<string, unknown>,
    });
}

/** The entity row's version, its audit rows, custody events and change-feed entries (one snapshot). */
export async function traces(
  t: TestApp,
  table: 'specimen' | 'participant' | 'collection_protocol',
  id: string,
) {
  const { rows } = await t.sql.query<{ version: number; audit: number; custody: number; feed: number }>(
    `select (select version from ${table} where id = $1) as version,
            (select count(*)::int from audit_log where entity_id = $1::text) as audit,
            (select count(*)::int from custody_event where specimen_id = $1) as custody,
            (select count(*)::int from change_log_pending where entity_id = $1)
              + (select count(*)::int from change_log where entity_id = $1) as feed`,
    [id],
  );
  return rows[0]!;
}

/** The columns each 'updated' feed entry of the entity names, oldest first. */
export async function feedUpdates(t: TestApp, id: string): Promise<string[][]> {
  const { rows } = await t.sql.query<{ changed: string[] }>(
    `select changed_columns as changed from (
       select changed_columns, changed_at from change_log_pending where entity_id = $1 and operation = 'updated'
       union all select changed_columns, changed_at from change_log where entity_id = $1 and operation = 'updated') u
      order by changed_at`,
    [id],
  );
  return rows.map((r) => r.changed);
}
