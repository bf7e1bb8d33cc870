import { z } from 'zod';

/** Quantities are kept with 4 decimals (numeric(14, 4)): the smallest amount there is. */
export const SMALLEST_QUANTITY = 0.0001;

/** An amount as it is kept: rounded to its 4 decimals, the form the custody chain hashes too. */
export const roundQuantity = (q: number): number => Number(q.toFixed(4));

/**
 * A positive amount as input: at least 0.0001 and at most 1e9, rounded to the 4 decimals it is
 * kept with as it arrives, so the amount stored, hashed into the custody chain and answered is one
 * number. (An amount that rounded to nothing once answered 200, changed nothing, and left a chain
 * that no longer verified.)
 */
export const quantityAmount = () =>
  z
    .number()
    .min(SMALLEST_QUANTITY, `at least ${SMALLEST_QUANTITY}: amounts are kept with 4 decimals`)
    .max(1e9)
    .transform(roundQuantity);
