import { v7 as uuidv7 } from 'uuid';
import { integer, timestamp, uuid } from 'drizzle-orm/pg-core';

/** UUIDv7 primary key (DESIGN.md section 6): time-ordered, so indexes stay compact. */
export const idColumn = () =>
  uuid('id')
    .primaryKey()
    .$defaultFn(() => uuidv7());

export const newId = (): string => uuidv7();

export const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const createdAt = () => tstz('created_at').notNull().defaultNow();
export const updatedAt = () => tstz('updated_at').notNull().defaultNow();
/** Optimistic concurrency (STYLE.md rule 8). */
export const versionColumn = () => integer('version').notNull().default(1);
