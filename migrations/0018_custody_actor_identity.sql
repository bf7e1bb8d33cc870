ALTER TABLE "custody_event" ADD COLUMN "actor_name" varchar(120);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "actor_role" varchar(20);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "actor_institution_code" varchar(32);--> statement-breakpoint
ALTER TABLE "custody_event" ADD COLUMN "hash_version" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "custody_event" ADD CONSTRAINT "custody_actor_identity" CHECK ("custody_event"."hash_version" = 1 or "custody_event"."actor_name" is not null);