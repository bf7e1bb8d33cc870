// ICD-10 chapters (WHO ICD-10, 2019 edition) by the range of three-character categories each
// covers. Partners ask for material by diagnosis code or by chapter (issue 10), and the catalogue
// groups by chapter: a code belongs to the chapter whose range holds its first three characters.

export interface Icd10Chapter {
  /** roman numeral, as WHO numbers the chapters */
  readonly chapter: string;
  readonly first: string;
  readonly last: string;
  readonly title: string;
}

export const ICD10_CHAPTERS: readonly Icd10Chapter[] = [
  { chapter: 'I', first: 'A00', last: 'B99', title: 'Certain infectious and parasitic diseases' },
  { chapter: 'II', first: 'C00', last: 'D48', title: 'Neoplasms' },
  { chapter: 'III', first: 'D50', last: 'D89', title: 'Diseases of the blood and immune mechanism' },
  { chapter: 'IV', first: 'E00', last: 'E90', title: 'Endocrine, nutritional and metabolic diseases' },
  { chapter: 'V', first: 'F00', last: 'F99', title: 'Mental and behavioural disorders' },
  { chapter: 'VI', first: 'G00', last: 'G99', title: 'Diseases of the nervous system' },
  { chapter: 'VII', first: 'H00', last: 'H59', title: 'Diseases of the eye and adnexa' },
  { chapter: 'VIII', first: 'H60', last: 'H95', title: 'Diseases of the ear and mastoid process' },
  { chapter: 'IX', first: 'I00', last: 'I99', title: 'Diseases of the circulatory system' },
  { chapter: 'X', first: 'J00', last: 'J99', title: 'Diseases of the respiratory system' },
  { chapter: 'XI', first: 'K00', last: 'K93', title: 'Diseases of the digestive system' },
  { chapter: 'XII', first: 'L00', last: 'L99', title: 'Diseases of the skin and subcutaneous tissue' },
  { chapter: 'XIII', first: 'M00', last: 'M99', title: 'Diseases of the musculoskeletal system' },
  { chapter: 'XIV', first: 'N00', last: 'N99', title: 'Diseases of the genitourinary system' },
  { chapter: 'XV', first: 'O00', last: 'O99', title: 'Pregnancy, childbirth and the puerperium' },
  {
    chapter: 'XVI',
    first: 'P00',
    last: 'P96',
    title: 'Certain conditions originating in the perinatal period',
  },
  {
    chapter: 'XVII',
    first: 'Q00',
    last: 'Q99',
    title: 'Congenital malformations and chromosomal abnormalities',
  },
  { chapter: 'XVIII', first: 'R00', last: 'R99', title: 'Symptoms, signs and abnormal findings' },
  { chapter: 'XIX', first: 'S00', last: 'T98', title: 'Injury, poisoning and other external causes' },
  { chapter: 'XX', first: 'V01', last: 'Y98', title: 'External causes of morbidity and mortality' },
  { chapter: 'XXI', first: 'Z00', last: 'Z99', title: 'Factors influencing health status' },
  { chapter: 'XXII', first: 'U00', last: 'U99', title: 'Codes for special purposes' },
];

export const ICD10_CHAPTER_NUMERALS = ICD10_CHAPTERS.map((c) => c.chapter);

/** The chapter of an ICD-10 code (`C50.9` -> II), or null for a code outside every range. */
export function icd10ChapterOf(code: string): string | null {
  const category = code.slice(0, 3).toUpperCase();
  return ICD10_CHAPTERS.find((c) => category >= c.first && category <= c.last)?.chapter ?? null;
}
