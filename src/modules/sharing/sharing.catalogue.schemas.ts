import { z } from 'zod';
import { USES } from '../../vocabulary/uses.js';
import { CATALOGUE_DIMENSIONS, LIST_DIMENSIONS } from './sharing.catalogue.count.js';
import { CRITERION_FIELDS, criteriaSchema } from './sharing.criteria.js';

// Catalogue schemas REST and GraphQL both validate with, and the answer's shape.

export const MAX_GROUP_DIMENSIONS = 3;

const groupBy = z
  .array(z.enum(CATALOGUE_DIMENSIONS))
  .max(MAX_GROUP_DIMENSIONS)
  .refine((list) => new Set(list).size === list.length, 'a dimension named twice')
  .refine(
    (list) => list.filter((d) => LIST_DIMENSIONS.includes(d)).length <= 1,
    'diagnosis and diagnosisChapter cannot be grouped together',
  )
  .describe('the dimensions to count by, at most three');

/** What the catalogue is asked, parsed: the same criteria document a sharing request carries. */
export const catalogueInput = z
  .object({
    use: z
      .enum(USES)
      .describe('the consent use the specimens would serve; only agreements covering it count'),
    groupBy: groupBy.default([]),
    criteria: criteriaSchema.default({}),
  })
  .strict();
export type CatalogueInput = z.infer<typeof catalogueInput>;

/**
 * The REST query string: `groupBy` comma-separated, `criteria` the criteria document as JSON.
 * A problem inside the criteria is named by its path (`criteria.sprec.preCentrifugation.0`).
 */
export const catalogueQuery = z
  .object({
    use: catalogueInput.shape.use,
    groupBy: z
      .string()
      .max(200)
      .optional()
      .transform((v) => (v ? v.split(',').map((d) => d.trim()) : []))
      .pipe(groupBy)
      .describe(`comma-separated, at most three of ${CATALOGUE_DIMENSIONS.join(', ')}`),
    criteria: z
      .string()
      .max(8000)
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return {};
        try {
          return JSON.parse(v) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'not JSON' });
          return z.NEVER;
        }
      })
      .pipe(criteriaSchema)
      .describe('fitness-for-purpose criteria as JSON, as a sharing request states them'),
  })
  .strict();

const count = z
  .union([z.number().int().min(5).multipleOf(5), z.literal('<5')])
  .describe('a count rounded down to a multiple of 5, or "<5" for 0 to 4');
const counts = z.object({ samples: count, donors: count });

export const catalogueDto = z.object({
  use: z.enum(USES),
  asOf: z.string().describe('when the counted inventory was read (the catalogue is refreshed periodically)'),
  providers: z
    .array(z.object({ id: z.uuid(), code: z.string(), name: z.string(), agreementId: z.uuid() }))
    .describe('the institutions counted: those whose agreement with yours covers the use today'),
  criteria: z
    .record(z.string(), z.unknown())
    .describe('the criteria as applied: collection dates by whole years'),
  groupBy: z.array(z.enum(CATALOGUE_DIMENSIONS)),
  shareable: counts.describe('available, unheld, not QC-failed specimens whose consent permits the use'),
  fit: counts.describe('those that meet every criterion'),
  excludedBy: z
    .array(z.object({ criterion: z.enum(CRITERION_FIELDS), samples: count, donors: count }))
    .describe('per criterion: what would fit if that criterion alone were dropped'),
  groups: z
    .array(
      z.object({
        key: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
        samples: count,
        donors: count,
      }),
    )
    .describe(
      'groups of at least 5 samples from at least 5 donors, largest first (smaller ones are not named); null: not recorded',
    ),
});
export type CatalogueDto = z.infer<typeof catalogueDto>;
