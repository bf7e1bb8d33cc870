ALTER TABLE "outbox" ADD COLUMN "done_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "failed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "actor_name" varchar(120);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "actor_role" varchar(20);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "actor_institution_code" varchar(32);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "hash_version" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
-- Work relayed before done_at existed was tracked by Redis alone: count it done, or the reconciler
-- would run every historical job again once BullMQ has removed it.
UPDATE "outbox" SET "done_at" = "enqueued_at" WHERE "enqueued_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "outbox_open_idx" ON "outbox" USING btree ("enqueued_at") WHERE "outbox"."enqueued_at" is not null and "outbox"."done_at" is null and "outbox"."failed_at" is null;--> statement-breakpoint
ALTER TABLE "custody_event" ADD CONSTRAINT "custody_actor_identity" CHECK ("custody_event"."hash_version" = 1 or "custody_event"."actor_name" is not null);