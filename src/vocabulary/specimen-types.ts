// Controlled vocabulary of specimen types (DESIGN.md section 3). Each type maps to the three
// vocabularies partners and standardization speak: the ISBER SPREC type-of-sample code, the
// MIABIS / BBMRI-ERIC Directory material type and the HL7 v2 table 0487 specimen type.
// Pure data and lookups: no I/O, safe to import from tables, schemas, services and workers.

export const SPECIMEN_TYPES = [
  'whole_blood',
  'plasma',
  'plasma_double_spun',
  'serum',
  'buffy_coat',
  'pbmc',
  'red_blood_cells',
  'bone_marrow',
  'cord_blood',
  'urine',
  'saliva',
  'sputum',
  'csf',
  'stool',
  'fresh_frozen_tissue',
  'oct_tissue',
  'ffpe_block',
  'ffpe_slide',
  'dna',
  'rna',
  'cfdna',
  'protein',
] as const;
export type SpecimenType = (typeof SPECIMEN_TYPES)[number];

// 'fluid' and 'solid' pick the SPREC grammar (ISBER SPREC v3 section "fluid" vs "solid"), so
// cells separated from blood (buffy coat, PBMC) and stool are 'fluid' because SPREC lists their
// type-of-sample codes with the fluids. 'derivative' = extracted analytes, which SPREC does not
// code at all.
export const SPECIMEN_CATEGORIES = ['fluid', 'solid', 'derivative'] as const;
export type SpecimenCategory = (typeof SPECIMEN_CATEGORIES)[number];

// Quantity units. Extracted analytes are tracked by eluate volume: aliquoting draws volume, and
// the mass follows from the concentration quality metric (DESIGN.md section 3).
export const SPECIMEN_UNITS = ['mL', 'uL', 'mg', 'ug', 'slides', 'blocks', 'cells'] as const;
export type SpecimenUnit = (typeof SPECIMEN_UNITS)[number];

// BBMRI-ERIC Directory material types, the aggregated vocabulary MIABIS Core 3 collections use.
// It has no CSF, bone-marrow or cord-blood term: those map to OTHER / WHOLE_BLOOD below.
export const MIABIS_MATERIAL_TYPES = [
  'WHOLE_BLOOD',
  'PLASMA',
  'SERUM',
  'BUFFY_COAT',
  'PERIPHERAL_BLOOD_CELLS',
  'URINE',
  'SALIVA',
  'FECES',
  'NASAL_SWAB',
  'THROAT_SWAB',
  'TISSUE_FROZEN',
  'TISSUE_PARAFFIN_EMBEDDED',
  'TISSUE_STAINED',
  'DNA',
  'CDNA',
  'RNA',
  'MICRO_RNA',
  'PATHOGEN',
  'CELL_LINES',
  'OTHER',
  'NAV',
] as const;
export type MiabisMaterialType = (typeof MIABIS_MATERIAL_TYPES)[number];

export interface SpecimenTypeInfo {
  readonly label: string;
  readonly category: SpecimenCategory;
  /** ISBER SPREC type-of-sample (3 characters, SPREC.md sections 2-3); null where SPREC has none. */
  readonly sprecTypeOfSample: string | null;
  readonly miabisMaterialType: MiabisMaterialType;
  /** HL7 v2 table 0487 (SPM-4); null where the table has no term (extracted analytes). */
  readonly hl7v2Table0487: string | null;
  readonly defaultUnit: SpecimenUnit;
  /** Parent types this type can be derived from (processing or extraction); empty for primaries. */
  readonly derivableFrom: readonly SpecimenType[];
}

const BLOOD_SOURCES = ['whole_blood', 'cord_blood'] as const satisfies readonly SpecimenType[];
const TISSUE_SOURCES = [
  'fresh_frozen_tissue',
  'oct_tissue',
  'ffpe_block',
  'ffpe_slide',
] as const satisfies readonly SpecimenType[];

// HL7 0487 has no DNA, RNA or protein term (it names the material collected, SPM-4): a message
// about an extract carries its source type, which the service takes from the lineage root.
export const SPECIMEN_TYPE_INFO = {
  whole_blood: {
    label: 'Whole blood',
    category: 'fluid',
    sprecTypeOfSample: 'BLD',
    miabisMaterialType: 'WHOLE_BLOOD',
    hl7v2Table0487: 'BLD',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  plasma: {
    label: 'Plasma (single-spun)',
    category: 'fluid',
    sprecTypeOfSample: 'PL1',
    miabisMaterialType: 'PLASMA',
    hl7v2Table0487: 'PLAS',
    defaultUnit: 'mL',
    derivableFrom: [...BLOOD_SOURCES],
  },
  plasma_double_spun: {
    label: 'Plasma (double-spun)',
    category: 'fluid',
    sprecTypeOfSample: 'PL2',
    miabisMaterialType: 'PLASMA',
    // 0487 PPP "platelet poor plasma" is what a second spin produces.
    hl7v2Table0487: 'PPP',
    defaultUnit: 'mL',
    // A second centrifugation of single-spun plasma, or both spins from the tube.
    derivableFrom: [...BLOOD_SOURCES, 'plasma'],
  },
  serum: {
    label: 'Serum',
    category: 'fluid',
    sprecTypeOfSample: 'SER',
    miabisMaterialType: 'SERUM',
    hl7v2Table0487: 'SER',
    defaultUnit: 'mL',
    derivableFrom: [...BLOOD_SOURCES],
  },
  buffy_coat: {
    label: 'Buffy coat',
    category: 'fluid',
    // SPREC BUF = viable buffy coat; BFF (non-viable) is recorded in the SPREC code itself.
    sprecTypeOfSample: 'BUF',
    miabisMaterialType: 'BUFFY_COAT',
    // 0487 has no buffy-coat term; WBC "leukocytes" is the nearest.
    hl7v2Table0487: 'WBC',
    defaultUnit: 'mL',
    derivableFrom: [...BLOOD_SOURCES, 'bone_marrow'],
  },
  pbmc: {
    label: 'Peripheral blood mononuclear cells',
    category: 'fluid',
    // SPREC CEL = Ficoll mononuclear cells, viable.
    sprecTypeOfSample: 'CEL',
    miabisMaterialType: 'PERIPHERAL_BLOOD_CELLS',
    // 0487 has no PBMC term; WBC "leukocytes" covers lymphocytes and monocytes (LYM would not).
    hl7v2Table0487: 'WBC',
    defaultUnit: 'cells',
    derivableFrom: ['whole_blood', 'buffy_coat'],
  },
  red_blood_cells: {
    label: 'Red blood cells',
    category: 'fluid',
    sprecTypeOfSample: 'RBC',
    miabisMaterialType: 'OTHER',
    hl7v2Table0487: 'RBC',
    defaultUnit: 'mL',
    derivableFrom: [...BLOOD_SOURCES],
  },
  bone_marrow: {
    label: 'Bone marrow aspirate',
    category: 'fluid',
    sprecTypeOfSample: 'BMA',
    miabisMaterialType: 'OTHER',
    hl7v2Table0487: 'MAR',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  cord_blood: {
    label: 'Cord blood',
    category: 'fluid',
    sprecTypeOfSample: 'CRD',
    // The Directory has no cord-blood term; it is whole blood.
    miabisMaterialType: 'WHOLE_BLOOD',
    hl7v2Table0487: 'BLDCO',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  urine: {
    label: 'Urine',
    category: 'fluid',
    // SPREC URN = random urine; U24 / URM / URT (timed collections) go in the SPREC code itself.
    sprecTypeOfSample: 'URN',
    miabisMaterialType: 'URINE',
    hl7v2Table0487: 'UR',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  saliva: {
    label: 'Saliva',
    category: 'fluid',
    sprecTypeOfSample: 'SAL',
    miabisMaterialType: 'SALIVA',
    hl7v2Table0487: 'SAL',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  sputum: {
    label: 'Sputum',
    category: 'fluid',
    sprecTypeOfSample: 'SPT',
    miabisMaterialType: 'OTHER',
    hl7v2Table0487: 'SPT',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  csf: {
    label: 'Cerebrospinal fluid',
    category: 'fluid',
    sprecTypeOfSample: 'CSF',
    miabisMaterialType: 'OTHER',
    hl7v2Table0487: 'CSF',
    defaultUnit: 'mL',
    derivableFrom: [],
  },
  stool: {
    label: 'Stool',
    category: 'fluid',
    sprecTypeOfSample: 'STL',
    miabisMaterialType: 'FECES',
    hl7v2Table0487: 'STL',
    defaultUnit: 'mg',
    derivableFrom: [],
  },
  fresh_frozen_tissue: {
    label: 'Fresh frozen tissue',
    category: 'solid',
    // Solid SPREC: TIS, with fixation SNP (snap freezing) in the SPREC code itself.
    sprecTypeOfSample: 'TIS',
    miabisMaterialType: 'TISSUE_FROZEN',
    hl7v2Table0487: 'TISS',
    defaultUnit: 'mg',
    derivableFrom: [],
  },
  oct_tissue: {
    label: 'OCT-embedded frozen tissue',
    category: 'solid',
    // Solid SPREC: TIS with fixation OCT.
    sprecTypeOfSample: 'TIS',
    miabisMaterialType: 'TISSUE_FROZEN',
    hl7v2Table0487: 'TISS',
    defaultUnit: 'blocks',
    derivableFrom: [],
  },
  ffpe_block: {
    label: 'FFPE tissue block',
    category: 'solid',
    // Solid SPREC: TIS with fixation NBF/FOR and long-term storage P (paraffin block).
    sprecTypeOfSample: 'TIS',
    miabisMaterialType: 'TISSUE_PARAFFIN_EMBEDDED',
    hl7v2Table0487: 'TISS',
    defaultUnit: 'blocks',
    derivableFrom: [],
  },
  ffpe_slide: {
    label: 'FFPE tissue section on slide',
    category: 'solid',
    sprecTypeOfSample: 'TIS',
    // Unstained sections; a stained slide would be TISSUE_STAINED.
    miabisMaterialType: 'TISSUE_PARAFFIN_EMBEDDED',
    hl7v2Table0487: 'TISS',
    defaultUnit: 'slides',
    derivableFrom: ['ffpe_block'],
  },
  dna: {
    label: 'DNA',
    category: 'derivative',
    sprecTypeOfSample: null,
    miabisMaterialType: 'DNA',
    hl7v2Table0487: null,
    defaultUnit: 'uL',
    derivableFrom: [
      ...BLOOD_SOURCES,
      'buffy_coat',
      'pbmc',
      'bone_marrow',
      'saliva',
      'stool',
      ...TISSUE_SOURCES,
    ],
  },
  rna: {
    label: 'RNA',
    category: 'derivative',
    sprecTypeOfSample: null,
    miabisMaterialType: 'RNA',
    hl7v2Table0487: null,
    defaultUnit: 'uL',
    derivableFrom: [...BLOOD_SOURCES, 'buffy_coat', 'pbmc', 'bone_marrow', ...TISSUE_SOURCES],
  },
  cfdna: {
    label: 'Cell-free DNA',
    category: 'derivative',
    sprecTypeOfSample: null,
    // Cell-free DNA is DNA; the Directory's CDNA means complementary DNA, not cfDNA.
    miabisMaterialType: 'DNA',
    hl7v2Table0487: null,
    defaultUnit: 'uL',
    derivableFrom: ['plasma', 'plasma_double_spun', 'serum', 'urine', 'csf'],
  },
  protein: {
    label: 'Protein extract',
    category: 'derivative',
    sprecTypeOfSample: null,
    miabisMaterialType: 'OTHER',
    hl7v2Table0487: null,
    defaultUnit: 'uL',
    derivableFrom: [
      'plasma',
      'plasma_double_spun',
      'serum',
      'pbmc',
      'urine',
      'saliva',
      'csf',
      'fresh_frozen_tissue',
      'oct_tissue',
      'ffpe_block',
    ],
  },
} as const satisfies Record<SpecimenType, SpecimenTypeInfo>;

const SPECIMEN_TYPE_SET: ReadonlySet<string> = new Set(SPECIMEN_TYPES);

export function isSpecimenType(value: string): value is SpecimenType {
  return SPECIMEN_TYPE_SET.has(value);
}

export function specimenTypeInfo(type: SpecimenType): SpecimenTypeInfo {
  return SPECIMEN_TYPE_INFO[type];
}

export function specimenTypeCategory(type: SpecimenType): SpecimenCategory {
  return SPECIMEN_TYPE_INFO[type].category;
}

/**
 * Whether a specimen of `childType` may be derived (processed or extracted) from one of
 * `parentType`. Aliquots keep their parent's type and are not derivatives, so a type is never
 * derivable from itself.
 */
export function isDerivativeAllowed(parentType: SpecimenType, childType: SpecimenType): boolean {
  const sources: readonly SpecimenType[] = SPECIMEN_TYPE_INFO[childType].derivableFrom;
  return sources.includes(parentType);
}

/** The types that can be derived from `parentType`, in vocabulary order. */
export function derivableTypes(parentType: SpecimenType): SpecimenType[] {
  return SPECIMEN_TYPES.filter((child) => isDerivativeAllowed(parentType, child));
}
