import { instant } from '../../clock.js';
import { z } from 'zod';
import { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import { FILL_ORDERS, GRID_SCHEMES } from './grid.js';
import { CONTAINER_KINDS } from './storage.table.js';

const containerBarcode = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only');

export const createContainerInput = z.object({
  kind: z.enum(CONTAINER_KINDS),
  barcode: containerBarcode,
  name: z.string().trim().min(1).max(120).optional().describe('defaults to the barcode'),
  parentId: z.uuid().optional(),
  slot: z.string().trim().max(16).optional().describe('position in the parent’s grid (a box in a rack)'),
  temperatureC: z.number().min(-273).max(100).optional(),
  grid: z
    .object({
      rows: z.number().int().min(1).max(100),
      cols: z.number().int().min(1).max(100),
      scheme: z.enum(GRID_SCHEMES).default('alphanumeric'),
      fillOrder: z.enum(FILL_ORDERS).default('row_major'),
    })
    .optional(),
  allowedTypes: z.array(z.enum(SPECIMEN_TYPES)).min(1).max(SPECIMEN_TYPES.length).optional(),
});
export type CreateContainerInput = z.infer<typeof createContainerInput>;

export const updateContainerInput = z
  .object({
    name: z.string().trim().min(1).max(120),
    temperatureC: z.number().min(-273).max(100).nullable(),
    allowedTypes: z.array(z.enum(SPECIMEN_TYPES)).min(1).nullable(),
  })
  .partial()
  .strict();

export const moveContainerInput = z.object({
  parentId: z.uuid(),
  slot: z.string().trim().max(16).optional(),
  occurredAt: instant.optional(),
});

/** The containers listed: children of one, or the top-level ones; of one kind if given. */
export const listContainersQuery = z.object({
  parentId: z.uuid().optional(),
  kind: z.enum(CONTAINER_KINDS).optional(),
});

export const rackScanInput = z.object({
  readings: z
    .array(
      z.object({ position: z.string().trim().min(1).max(16), barcode: z.string().trim().max(64).nullable() }),
    )
    .min(1)
    .max(1536)
    .describe('the scanner’s reading: every position with its barcode, or null when empty'),
  apply: z
    .boolean()
    .default(false)
    .describe('record the moves (tubes found here that were stored elsewhere)'),
  occurredAt: instant.optional(),
});

export const containerDto = z.object({
  id: z.uuid(),
  kind: z.enum(CONTAINER_KINDS),
  barcode: z.string(),
  name: z.string(),
  parentId: z.uuid().nullable(),
  slot: z.string().nullable(),
  path: z.string(),
  temperatureC: z.number().nullable(),
  grid: z
    .object({
      rows: z.number().int(),
      cols: z.number().int(),
      scheme: z.enum(GRID_SCHEMES),
      fillOrder: z.enum(FILL_ORDERS),
    })
    .nullable(),
  allowedTypes: z.array(z.string()).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});
export type ContainerDto = z.infer<typeof containerDto>;
