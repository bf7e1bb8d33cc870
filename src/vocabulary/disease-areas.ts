// The disease areas the centers this service supports are organised by (issue 10): each
// collection protocol belongs to one, so partners can find material by area. `other` covers a
// protocol outside the six and every protocol recorded before areas existed.

export const DISEASE_AREAS = [
  'tumour',
  'neurological',
  'pan_vascular',
  'respiratory',
  'rheumatic_immune_musculoskeletal',
  'sensory',
  'other',
] as const;
export type DiseaseArea = (typeof DISEASE_AREAS)[number];

export const DEFAULT_DISEASE_AREA: DiseaseArea = 'other';
