import type { ConsentTier } from './consent-tiers.js';

/** The uses a specimen may be put to, each governed by one consent tier. */
export const USES = ['internal_research', 'genetic_research', 'external_sharing', 'commercial_use'] as const;
export type Use = (typeof USES)[number];

export const USE_TIER: Record<Use, ConsentTier> = {
  internal_research: 'INTERNAL_RESEARCH',
  genetic_research: 'GENETIC_RESEARCH',
  external_sharing: 'EXTERNAL_SHARING',
  commercial_use: 'COMMERCIAL_USE',
};

/** Research within the biobank is what signing the study consent is for; other uses need their own yes. */
export const IMPLIED_BY_STUDY_CONSENT: ReadonlySet<Use> = new Set<Use>(['internal_research']);

export const DEFAULT_USE: Use = 'internal_research';
