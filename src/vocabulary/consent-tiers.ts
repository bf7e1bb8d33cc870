// Shared domain vocabulary: pure constants, no I/O, importable from any module (ARCHITECTURE.md).

/** Consent tiers a protocol may ask donors about (DESIGN.md section 3). */
export const CONSENT_TIERS = [
  'INTERNAL_RESEARCH',
  'GENETIC_RESEARCH',
  'EXTERNAL_SHARING',
  'COMMERCIAL_USE',
  'FUTURE_RESEARCH',
  'RECONTACT',
] as const;
export type ConsentTier = (typeof CONSENT_TIERS)[number];
