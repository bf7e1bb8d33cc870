import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { institutions } from './institutions.table.js';

export type InstitutionRow = typeof institutions.$inferSelect;
export type NewInstitutionRow = typeof institutions.$inferInsert;

/** With `lock`, FOR NO KEY UPDATE: the row an edit replaces. */
export async function findInstitutionById(
  db: DbOrTx,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<InstitutionRow | undefined> {
  const q = db.select().from(institutions).where(eq(institutions.id, id));
  const [row] = opts.lock ? await q.for('no key update') : await q;
  return row;
}

export async function findInstitutionByCode(db: DbOrTx, code: string): Promise<InstitutionRow | undefined> {
  const [row] = await db.select().from(institutions).where(eq(institutions.code, code));
  return row;
}

export async function findInstitutionsByIds(db: DbOrTx, ids: readonly string[]): Promise<InstitutionRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(institutions)
    .where(inArray(institutions.id, [...ids]));
}

export async function listInstitutionRows(
  db: DbOrTx,
  opts: { onlyId?: string; afterCode?: string; limit: number },
) {
  return db
    .select()
    .from(institutions)
    .where(
      and(
        opts.onlyId ? eq(institutions.id, opts.onlyId) : undefined,
        opts.afterCode ? gt(institutions.code, opts.afterCode) : undefined,
      ),
    )
    .orderBy(asc(institutions.code))
    .limit(opts.limit);
}

export async function insertInstitution(db: DbOrTx, row: NewInstitutionRow): Promise<InstitutionRow> {
  const [created] = await db.insert(institutions).values(row).returning();
  if (!created) throw new Error('insert returned no row');
  return created;
}

export async function updateInstitutionRow(
  db: DbOrTx,
  id: string,
  expectedVersion: number,
  patch: Partial<NewInstitutionRow>,
): Promise<InstitutionRow | undefined> {
  const [row] = await db
    .update(institutions)
    .set({ ...patch, version: sql`${institutions.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(institutions.id, id), eq(institutions.version, expectedVersion)))
    .returning();
  return row;
}
