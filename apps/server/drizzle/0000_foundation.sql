CREATE TYPE "public"."run_state" AS ENUM('running', 'succeeded', 'failed', 'lost');--> statement-breakpoint
CREATE TABLE "experiments" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"description" text,
	"wandb_entity" text,
	"wandb_project" text,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"experiment_id" text NOT NULL,
	"variation" text NOT NULL,
	"run" integer NOT NULL,
	"state" "run_state" DEFAULT 'running' NOT NULL,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"last_heartbeat_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"wandb_run_id" text,
	"wandb_entity" text,
	"wandb_project" text,
	"wandb_dashboard_url" text,
	"summary" jsonb,
	"error_message" text,
	"error_details" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "runs_experiment_id_variation_run_pk" PRIMARY KEY("experiment_id","variation","run")
);
--> statement-breakpoint
CREATE TABLE "variations" (
	"experiment_id" text NOT NULL,
	"variation" text NOT NULL,
	"description" text,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "variations_experiment_id_variation_pk" PRIMARY KEY("experiment_id","variation")
);
--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_experiment_id_variation_variations_experiment_id_variation_fk" FOREIGN KEY ("experiment_id","variation") REFERENCES "public"."variations"("experiment_id","variation") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "variations" ADD CONSTRAINT "variations_experiment_id_experiments_id_fk" FOREIGN KEY ("experiment_id") REFERENCES "public"."experiments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "experiments_created_at_id_index" ON "experiments" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "variations_experiment_id_created_at_variation_index" ON "variations" USING btree ("experiment_id","created_at","variation");