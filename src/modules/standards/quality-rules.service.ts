import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { versionConflict } from '../../errors.js';
import { recordAudit } from '../audit/index.js';
import { normalizeRules } from './quality-rules.js';
import { currentRulesetRows, findRuleset, insertRuleset } from './quality-rules.repo.js';
import { qualityRulesVersionNotFound, rulesetRefused } from './standards.errors.js';
import type { PutQualityRulesInput } from './standards.schemas.js';
import { ownProtocol } from './standards.protocols.js';
import type { QualityRulesetRow } from './standards.table.js';
import type { ExpectedVersion } from '../../versions.js';

/** Protocols' quality rules: read, saved as new versions, and listed for GraphQL pages. */
export function createQualityRulesService(deps: { db: Db }) {
  const { db } = deps;
  return {
    /** The protocol's current quality rules (version 0, no rules, when none were set), or an earlier version. Throws PROTOCOL_NOT_FOUND, QUALITY_RULES_VERSION_NOT_FOUND. */
    async getQualityRules(ctx: Ctx, protocolId: string, version?: number) {
      authorize(ctx.actor, 'standards.read');
      await ownProtocol(db, actorInstitutionId(ctx.actor), protocolId);
      const row = await findRuleset(db, protocolId, version);
      if (!row && version !== undefined) throw qualityRulesVersionNotFound(protocolId, version);
      return { protocolId, row: row ?? null };
    },

    /**
     * Saves the protocol's quality rules as a new version (the previous ones are kept). With an
     * expected version (If-Match), a stale one is refused. Throws PROTOCOL_NOT_FOUND,
     * UNKNOWN_RULE_FIELD / DUPLICATE_RULE_ID (422, naming the rule field), VERSION_CONFLICT.
     */
    async putQualityRules(
      ctx: Ctx,
      protocolId: string,
      input: PutQualityRulesInput,
      expectedVersion?: ExpectedVersion,
    ): Promise<QualityRulesetRow> {
      authorize(ctx.actor, 'standards.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const { rules, problems } = normalizeRules(input.rules);
      const [first, ...more] = problems;
      if (first) throw rulesetRefused([first, ...more]);
      return inTransaction(db, ctx, async (tx) => {
        // The protocol row lock serialises two saves of the same rules.
        const protocol = await ownProtocol(tx, institutionId, protocolId, true);
        const current = await findRuleset(tx, protocolId);
        const currentVersion = current?.version ?? 0;
        // `*` needs rules to exist (version 0 is none), as If-Match * needs a current representation.
        if (
          expectedVersion !== undefined &&
          (expectedVersion === '*' ? current === undefined : expectedVersion !== currentVersion)
        )
          throw versionConflict(
            `the quality rules of protocol ${protocol.code}`,
            expectedVersion,
            currentVersion,
          );
        const row = await insertRuleset(tx, {
          institutionId,
          protocolId,
          version: currentVersion + 1,
          rules,
          createdBy: actorLabel(ctx.actor),
        });
        await recordAudit(tx, ctx, {
          action: 'putQualityRules',
          entityType: 'quality_ruleset',
          entityId: row.id,
          institutionId,
          before: current ?? null,
          after: row,
        });
        return row;
      });
    },

    /**
     * The current quality rules of a page of protocols (the GraphQL loader's one statement), by
     * protocol id; a protocol without rules, or another institution's, is absent.
     */
    async listCurrentQualityRules(
      ctx: Ctx,
      protocolIds: readonly string[],
    ): Promise<Map<string, QualityRulesetRow>> {
      authorize(ctx.actor, 'standards.read');
      const ids = [...new Set(protocolIds)];
      if (ids.length === 0) return new Map();
      return currentRulesetRows(db, actorInstitutionId(ctx.actor), ids);
    },
  };
}
