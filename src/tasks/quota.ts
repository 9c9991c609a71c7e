import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import type { TaskRow } from "../db/schema";

/**
 * Create and delete keep task_counts in their own statement. The create's upsert locks the user's
 * counter row and re-checks it against the latest committed value, so 30 concurrent creates at the limit
 * add exactly as many tasks as fit; when none fits, the insert selects no row and creates nothing.
 * One statement, one round trip: the quota costs no extra trip to the database.
 */
export async function insertWithinQuota(db: Db, values: { title: string; description: string | null; status: string; userId: string }, max: number): Promise<TaskRow | undefined> {
  const rows = rowsOf(await db.execute(sql`
    with counted as (
      insert into task_counts (user_id, total) values (${values.userId}, 1)
      on conflict (user_id) do update set total = task_counts.total + 1
      where ${max}::integer = 0 or task_counts.total < ${max}::integer
      returning user_id
    )
    insert into tasks (title, description, status, user_id)
    select ${values.title}, ${values.description}, ${values.status}, user_id from counted
    returning *`));
  return rows[0] && toRow(rows[0]);
}

/** Deletes the task (if `condition` holds) and gives its slot back, in one statement; the deleted id or undefined. */
export async function deleteCounted(db: Db, userId: string, id: number, condition?: SQL): Promise<number | undefined> {
  const rows = rowsOf(await db.execute(sql`
    with deleted as (
      delete from tasks where id = ${id} and user_id = ${userId} ${condition ? sql`and ${condition}` : sql``} returning id
    ), counted as (
      update task_counts set total = greatest(total - 1, 0) where user_id = ${userId} and exists (select 1 from deleted)
    )
    select id from deleted`));
  return rows[0] ? Number(rows[0].id) : undefined;
}

// postgres.js answers an array of rows, PGlite an object holding them.
const rowsOf = (result: unknown): Record<string, any>[] => (Array.isArray(result) ? result : (result as { rows: Record<string, any>[] }).rows);

const toRow = (r: Record<string, any>): TaskRow => ({
  id: Number(r.id),
  title: r.title,
  description: r.description,
  status: r.status,
  userId: r.user_id,
  version: Number(r.version),
  createdAt: toDate(r.created_at),
  updatedAt: toDate(r.updated_at),
});

// Raw timestamptz text ("2026-02-05 10:00:00.123456+00") or a Date, depending on the driver.
const toDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v).replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00")));
