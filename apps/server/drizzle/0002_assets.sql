CREATE TYPE "public"."asset_state" AS ENUM('pending', 'ready', 'aborted');--> statement-breakpoint
CREATE TABLE "asset_parts" (
	"asset_id" uuid NOT NULL,
	"path" text NOT NULL,
	"part_number" integer NOT NULL,
	"etag" text NOT NULL,
	"size" bigint NOT NULL,
	"recorded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "asset_parts_asset_id_path_part_number_pk" PRIMARY KEY("asset_id","path","part_number")
);
--> statement-breakpoint
CREATE TABLE "assets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"experiment_id" text NOT NULL,
	"variation" text NOT NULL,
	"run" integer NOT NULL,
	"asset_type" text NOT NULL,
	"name" text,
	"state" "asset_state" DEFAULT 'pending' NOT NULL,
	"inline" boolean NOT NULL,
	"content" jsonb,
	"asset_config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"components" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"size" bigint NOT NULL,
	"uploaded_size" bigint DEFAULT 0 NOT NULL,
	"part_size" bigint,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finalized_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"principal" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"asset_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_principal_key_pk" PRIMARY KEY("principal","key")
);
--> statement-breakpoint
CREATE TABLE "variation_inputs" (
	"experiment_id" text NOT NULL,
	"variation" text NOT NULL,
	"asset_id" uuid NOT NULL,
	"linked_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "variation_inputs_experiment_id_variation_asset_id_pk" PRIMARY KEY("experiment_id","variation","asset_id")
);
--> statement-breakpoint
ALTER TABLE "asset_parts" ADD CONSTRAINT "asset_parts_asset_id_assets_id_fk" FOREIGN KEY ("asset_id") REFERENCES "public"."assets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assets" ADD CONSTRAINT "assets_run_fk" FOREIGN KEY ("experiment_id","variation","run") REFERENCES "public"."runs"("experiment_id","variation","run") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "variation_inputs" ADD CONSTRAINT "variation_inputs_asset_id_assets_id_fk" FOREIGN KEY ("asset_id") REFERENCES "public"."assets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "variation_inputs" ADD CONSTRAINT "variation_inputs_variation_fk" FOREIGN KEY ("experiment_id","variation") REFERENCES "public"."variations"("experiment_id","variation") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "assets_latest_index" ON "assets" USING btree ("experiment_id","variation","asset_type","created_at","id") WHERE "assets"."state" = 'ready';--> statement-breakpoint
CREATE INDEX "assets_experiment_id_variation_run_created_at_id_index" ON "assets" USING btree ("experiment_id","variation","run","created_at","id");--> statement-breakpoint
CREATE INDEX "assets_experiment_id_variation_created_at_id_index" ON "assets" USING btree ("experiment_id","variation","created_at","id");--> statement-breakpoint
CREATE INDEX "assets_experiment_id_created_at_id_index" ON "assets" USING btree ("experiment_id","created_at","id");--> statement-breakpoint
CREATE INDEX "assets_pending_index" ON "assets" USING btree ("created_at") WHERE "assets"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at_index" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "variation_inputs_linked_index" ON "variation_inputs" USING btree ("experiment_id","variation","linked_at","asset_id");