import type { Ctx } from '../../context.js';

/** The actor the checker writes as; its own changes (QC holds) do not queue another check. */
export const STANDARDS_ACTOR = 'standards';

/** The caller's context acting as the checker of one institution (custody events and audit name it). */
export const checkerCtx = (ctx: Ctx, institutionId: string): Ctx => ({
  ...ctx,
  actor: { kind: 'system', name: STANDARDS_ACTOR, institutionId },
});

export const isChecker = (ctx: Ctx): boolean =>
  ctx.actor.kind === 'system' && ctx.actor.name === STANDARDS_ACTOR;
