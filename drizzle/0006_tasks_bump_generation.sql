-- Every change to a user's tasks bumps that user's task_counts.generation, in the writing statement's own
-- transaction, whoever writes (the service's statements, an operator's SQL, a replica running older code).
-- A list that cached where positions fall in a user's order (every 500th task, src/tasks/anchors.ts) checks
-- the generation in its own statement and uses the cache only if nothing changed since it was built.
-- A row of task_counts that does not exist yet is not created here: the create's own statement makes it.
CREATE FUNCTION "tasks_bump_generation"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE "task_counts" SET "generation" = "generation" + 1;
  ELSE
    -- OLD is null for an insert, NEW for a delete; an update that moved a task bumps both users.
    UPDATE "task_counts" SET "generation" = "generation" + 1 WHERE "user_id" IN (OLD."user_id", NEW."user_id");
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "tasks_bump_generation" AFTER INSERT OR UPDATE OR DELETE ON "tasks"
  FOR EACH ROW EXECUTE FUNCTION "tasks_bump_generation"();
--> statement-breakpoint
CREATE TRIGGER "tasks_bump_generation_truncate" AFTER TRUNCATE ON "tasks"
  FOR EACH STATEMENT EXECUTE FUNCTION "tasks_bump_generation"();
