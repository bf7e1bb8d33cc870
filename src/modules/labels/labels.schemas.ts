import { z } from 'zod';
import { LABEL_SIZE_NAMES, SYMBOLOGIES } from './labels.layout.js';
import { LABEL_FORMATS } from './labels.service.js';

/** A PNG sheet or PDF of more labels than a box holds is a print job for a queue, not a request. */
export const MAX_LABELS = 200;

export const labelOptions = z.object({
  format: z
    .enum(LABEL_FORMATS)
    .optional()
    .describe(
      'zpl, pdf or png; when absent the Accept header decides (application/pdf, image/png), else zpl',
    ),
  size: z.enum(LABEL_SIZE_NAMES).default('cryo-33x13').describe('label stock'),
  symbology: z.enum(SYMBOLOGIES).default('datamatrix').describe('DataMatrix (ECC 200) or Code 128'),
});

export const printLabelsInput = labelOptions.extend({
  specimenIds: z
    .array(z.uuid())
    .min(1)
    .max(MAX_LABELS)
    .describe('specimens in print order, e.g. the aliquots just made'),
});
