-- The trigger of 0006 made every task write update the user's counter row a second time: creates and
-- updates at about half their throughput in the benchmark. Offset pages walk from the nearer end again.
DROP TRIGGER IF EXISTS "tasks_bump_generation" ON "tasks";
--> statement-breakpoint
DROP TRIGGER IF EXISTS "tasks_bump_generation_truncate" ON "tasks";
--> statement-breakpoint
DROP FUNCTION IF EXISTS "tasks_bump_generation"();
