// SQL over quality_ruleset: every version of every protocol's quality rules (a protocol's current
// ruleset is its highest version).

import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import type { QualityRule } from './standards.schemas.js';
import type { Ruleset } from './standards.rules.js';
import { qualityRulesets, type QualityRulesetRow } from './standards.table.js';

export const toRuleset = (r: QualityRulesetRow): Ruleset => ({
  protocolId: r.protocolId,
  version: r.version,
  rules: r.rules as QualityRule[],
});

/** The current ruleset of each protocol (its highest version), in one query. */
export async function currentRulesets(
  handle: DbOrTx,
  protocolIds: readonly string[],
): Promise<Map<string, Ruleset>> {
  if (protocolIds.length === 0) return new Map();
  const rows = await handle
    .selectDistinctOn([qualityRulesets.protocolId])
    .from(qualityRulesets)
    .where(inArray(qualityRulesets.protocolId, [...protocolIds]))
    .orderBy(qualityRulesets.protocolId, desc(qualityRulesets.version));
  return new Map(rows.map((r) => [r.protocolId, toRuleset(r)]));
}

/** The given versions of the given protocols' rulesets (a run's pinned rules), by protocol id. */
export async function pinnedRulesets(
  handle: DbOrTx,
  pinned: Record<string, number>,
): Promise<Map<string, Ruleset>> {
  const entries = Object.entries(pinned);
  const rows = entries.length
    ? await handle
        .select()
        .from(qualityRulesets)
        .where(
          sql`(${qualityRulesets.protocolId}, ${qualityRulesets.version}) in (${sql.join(
            entries.map(([p, v]) => sql`(${p}::uuid, ${v}::int)`),
            sql`, `,
          )})`,
        )
    : [];
  return new Map(rows.map((r) => [r.protocolId, toRuleset(r)]));
}

/** The current rows of the institution's protocols among `protocolIds`, by protocol id. */
export async function currentRulesetRows(
  handle: DbOrTx,
  institutionId: string,
  protocolIds: readonly string[],
): Promise<Map<string, QualityRulesetRow>> {
  const rows = await handle
    .selectDistinctOn([qualityRulesets.protocolId])
    .from(qualityRulesets)
    .where(
      and(
        eq(qualityRulesets.institutionId, institutionId),
        inArray(qualityRulesets.protocolId, [...protocolIds]),
      ),
    )
    .orderBy(qualityRulesets.protocolId, desc(qualityRulesets.version));
  return new Map(rows.map((r) => [r.protocolId, r]));
}

/** A protocol's ruleset row: the given version, else the current one. */
export async function findRuleset(
  handle: DbOrTx,
  protocolId: string,
  version?: number,
): Promise<QualityRulesetRow | undefined> {
  const [row] = await handle
    .select()
    .from(qualityRulesets)
    .where(
      and(
        eq(qualityRulesets.protocolId, protocolId),
        version === undefined ? undefined : eq(qualityRulesets.version, version),
      ),
    )
    .orderBy(desc(qualityRulesets.version))
    .limit(1);
  return row;
}

/** Saves a ruleset row (the caller numbers the version). */
export async function insertRuleset(
  tx: Tx,
  values: Omit<typeof qualityRulesets.$inferInsert, 'id'>,
): Promise<QualityRulesetRow> {
  const [row] = await tx
    .insert(qualityRulesets)
    .values({ id: newId(), ...values })
    .returning();
  return row!;
}
