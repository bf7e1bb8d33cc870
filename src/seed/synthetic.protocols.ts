// The synthetic biobank's collection protocols: what each cohort consents to, how its donors
// divide between them, their diagnoses and what a visit collects.
import type { ConsentTier } from '../vocabulary/consent-tiers.js';

export interface ProtocolSeed {
  code: string;
  title: string;
  tiers: ConsentTier[];
  /** share of donors */
  weight: number;
  diagnoses: string[];
  collections: readonly (readonly [CollectionKind, number])[];
  tissueSites?: string[];
}

export type CollectionKind = 'blood' | 'urine' | 'saliva' | 'tissue' | 'csf' | 'marrow' | 'stool';

export const PROTOCOLS: readonly ProtocolSeed[] = [
  {
    code: 'GENPOP',
    title: 'Population cohort: blood, urine and saliva at baseline and follow-up',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'FUTURE_RESEARCH', 'RECONTACT'],
    weight: 30,
    diagnoses: [],
    collections: [
      ['blood', 75],
      ['urine', 20],
      ['saliva', 5],
    ],
  },
  {
    code: 'ONCO-SOLID',
    title: 'Solid tumour biobank: tumour / matched normal tissue and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'],
    weight: 20,
    diagnoses: ['C50.9', 'C18.7', 'C34.1', 'C61', 'C64.9'],
    collections: [
      ['tissue', 55],
      ['blood', 45],
    ],
    tissueSites: ['breast', 'colon, sigmoid', 'lung, upper lobe', 'prostate', 'kidney'],
  },
  {
    code: 'CARDIO',
    title: 'Coronary artery disease cohort',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'FUTURE_RESEARCH'],
    weight: 15,
    diagnoses: ['I25.1', 'I10', 'I21.9'],
    collections: [
      ['blood', 80],
      ['urine', 20],
    ],
  },
  {
    code: 'DIAB',
    title: 'Type 2 diabetes progression study',
    tiers: ['INTERNAL_RESEARCH', 'EXTERNAL_SHARING', 'FUTURE_RESEARCH', 'RECONTACT'],
    weight: 15,
    diagnoses: ['E11.9', 'E11.2'],
    collections: [
      ['blood', 70],
      ['urine', 30],
    ],
  },
  {
    code: 'NEURO',
    title: 'Neurodegeneration: CSF and blood biomarkers',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING'],
    weight: 8,
    diagnoses: ['G30.9', 'G35', 'G20'],
    collections: [
      ['csf', 45],
      ['blood', 55],
    ],
  },
  {
    code: 'HEME',
    title: 'Haematological malignancies: marrow and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'COMMERCIAL_USE'],
    weight: 5,
    diagnoses: ['C92.0', 'C90.0', 'C91.1'],
    collections: [
      ['marrow', 60],
      ['blood', 40],
    ],
  },
  {
    code: 'IBD',
    title: 'Inflammatory bowel disease: stool, biopsies and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'FUTURE_RESEARCH'],
    weight: 7,
    diagnoses: ['K50.9', 'K51.9'],
    collections: [
      ['stool', 50],
      ['blood', 40],
      ['tissue', 10],
    ],
    tissueSites: ['colon, transverse', 'terminal ileum', 'rectum'],
  },
];
