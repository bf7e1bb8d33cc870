ALTER TABLE "idempotency_key" DROP COLUMN "state";--> statement-breakpoint
ALTER TABLE "idempotency_key" DROP COLUMN "locked_until";--> statement-breakpoint
DROP TYPE "public"."idempotency_state";