-- Counts every user's tasks from the tasks table itself: tasks written before the counters existed
-- (or by a replica still running older code) are counted too. Setting, not adding, makes it idempotent.
-- The lock keeps task writes out until this transaction commits, so no write lands between the count
-- and the counter it would have bumped; migrations run in one transaction under an advisory lock, so
-- replicas starting together run this once.
LOCK TABLE "tasks", "task_counts" IN SHARE ROW EXCLUSIVE MODE;
--> statement-breakpoint
INSERT INTO "task_counts" ("user_id", "total", "pending", "in_progress", "completed")
SELECT "user_id", count(*),
  count(*) FILTER (WHERE "status" = 'pending'),
  count(*) FILTER (WHERE "status" = 'in_progress'),
  count(*) FILTER (WHERE "status" = 'completed')
FROM "tasks" GROUP BY "user_id"
ON CONFLICT ("user_id") DO UPDATE SET
  "total" = excluded."total", "pending" = excluded."pending",
  "in_progress" = excluded."in_progress", "completed" = excluded."completed";
--> statement-breakpoint
UPDATE "task_counts" SET "total" = 0, "pending" = 0, "in_progress" = 0, "completed" = 0
WHERE NOT EXISTS (SELECT 1 FROM "tasks" WHERE "tasks"."user_id" = "task_counts"."user_id");
