ALTER TABLE "task_counts" ADD COLUMN "pending" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_counts" ADD COLUMN "in_progress" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_counts" ADD COLUMN "completed" integer DEFAULT 0 NOT NULL;