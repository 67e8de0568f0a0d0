CREATE TYPE "public"."token_scope" AS ENUM('read', 'write', 'admin');--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"scope" "token_scope" NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "tokens_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE INDEX "tokens_created_at_id_index" ON "tokens" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "runs_experiment_id_created_at_variation_run_index" ON "runs" USING btree ("experiment_id","created_at","variation","run");--> statement-breakpoint
CREATE INDEX "runs_experiment_id_variation_created_at_run_index" ON "runs" USING btree ("experiment_id","variation","created_at","run");--> statement-breakpoint
CREATE INDEX "runs_running_heartbeat_index" ON "runs" USING btree ("last_heartbeat_at") WHERE "runs"."state" = 'running';