import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { perHandle } from "../db/per-handle";
import type { TaskRow } from "../db/schema";
import { type KeyRecord, keyCheck, recordedCte } from "../idempotency/store";
import { taskJsonSql } from "./model";

/**
 * Create, delete and status changes keep task_counts (in all and per status) in their own statement. The
 * create's upsert locks the user's counter row and re-checks it against the latest committed value, so
 * 30 concurrent creates at the limit add exactly as many tasks as fit; when none fits, the insert
 * selects no row and creates nothing.
 * One statement, one round trip: the quota costs no extra trip to the database. With `record`, the same
 * statement also stores the answer under the Idempotency-Key (see recordedCte).
 */
export async function insertWithinQuota(
  db: Db,
  values: { title: string; description: string | null; status: string; userId: string },
  max: number,
  record?: KeyRecord,
): Promise<TaskRow | undefined> {
  const params = { ...values, max };
  const rows = record
    ? await statement(
        db,
        "create_task_keyed",
        () => sql`with ${COUNTED}, created as (${INSERT}), ${recordedCte(
          "created",
          {
            userId: sql.placeholder("userId"),
            key: sql.placeholder("key"),
            fingerprint: sql.placeholder("fingerprint"),
            ttlSeconds: sql.placeholder("ttlSeconds"),
          },
          {
            status: 201,
            body: taskJsonSql,
            location: sql`'/api/tasks/' || id`,
            etag: sql`'"' || id || '-' || version || '"'`,
          },
        )}
    select created.*, ${keyCheck(sql`created.id`)} as recorded from created`,
      )({ ...params, key: record.key, fingerprint: record.fingerprint, ttlSeconds: record.ttlSeconds })
    : await statement(db, "create_task", () => sql`with ${COUNTED} ${INSERT}`)(params);
  return rows[0] && toRow(rows[0]);
}

// 1 for the counter of the task's status, else 0, computed by PostgreSQL so the statement is one shape.
const one = (counter: string) => sql`(${sql.placeholder("status")}::text = ${sql.raw(`'${counter}'`)})::integer`;
const COUNTED = sql`counted as (
      insert into task_counts (user_id, total, pending, in_progress, completed)
      values (${sql.placeholder("userId")}, 1, ${one("pending")}, ${one("in_progress")}, ${one("completed")})
      on conflict (user_id) do update set total = task_counts.total + 1, pending = task_counts.pending + excluded.pending,
        in_progress = task_counts.in_progress + excluded.in_progress, completed = task_counts.completed + excluded.completed
      where ${sql.placeholder("max")}::integer = 0 or task_counts.total < ${sql.placeholder("max")}::integer
      returning user_id
    )`;
const INSERT = sql`insert into tasks (title, description, status, user_id)
    select ${sql.placeholder("title")}, ${sql.placeholder("description")}, ${sql.placeholder("status")}, user_id from counted
    returning *`;

/** Deletes the task (if `condition` holds) and gives its slot back, in one statement; the deleted id or undefined. */
export async function deleteCounted(db: Db, userId: string, id: number, condition?: SQL): Promise<number | undefined> {
  const text = (id: unknown, userId: unknown, extra: SQL) => sql`
    with deleted as (
      delete from tasks where id = ${id} and user_id = ${userId} ${extra} returning id, status
    ), counted as (
      update task_counts c set total = greatest(c.total - 1, 0),
        pending = greatest(c.pending - (d.status = 'pending')::int, 0),
        in_progress = greatest(c.in_progress - (d.status = 'in_progress')::int, 0),
        completed = greatest(c.completed - (d.status = 'completed')::int, 0)
      from deleted d where c.user_id = ${userId}
    )
    select id from deleted`;
  // An If-Match condition has its own shape each time: built and sent per call, unprepared.
  const rows = condition
    ? rowsOf(await db.execute(text(id, userId, sql`and ${condition}`)))
    : await statement(db, "delete_task", () => text(sql.placeholder("id"), sql.placeholder("userId"), sql``))({
        id,
        userId,
      });
  return rows[0] ? Number(rows[0].id) : undefined;
}

/**
 * An update that sets `status` moves the task between the per-status counters in its own statement. The
 * old status is read under the row's lock (FOR UPDATE waits for a concurrent writer and sees its
 * result), so two concurrent status changes of one task cannot both count from the same old status.
 */
export async function updateCounted(
  db: Db,
  userId: string,
  id: number,
  values: StatusChange,
  condition?: SQL,
): Promise<TaskRow | undefined> {
  const text = (v: (name: keyof StatusChange | "id" | "userId") => unknown, extra: SQL) => sql`
    with old as (
      select id, status from tasks where id = ${v("id")} and user_id = ${v("userId")} ${extra} for update
    ), changed as (
      update tasks set ${setClause(values, v)} from old where tasks.id = old.id returning tasks.*, old.status as old_status
    ), counted as (
      update task_counts c set
        pending = c.pending + (ch.status = 'pending')::int - (ch.old_status = 'pending')::int,
        in_progress = c.in_progress + (ch.status = 'in_progress')::int - (ch.old_status = 'in_progress')::int,
        completed = c.completed + (ch.status = 'completed')::int - (ch.old_status = 'completed')::int
      from changed ch where c.user_id = ${v("userId")} and ch.status <> ch.old_status
    )
    select * from changed`;
  const all = { ...values, id, userId };
  // One prepared statement per set of changed fields; an If-Match list has its own shape each time.
  const rows = condition
    ? rowsOf(await db.execute(text((name) => all[name], sql`and ${condition}`)))
    : await statement(db, `update_counted_${Object.keys(values).join("_")}`, () =>
        text((name) => sql.placeholder(name), sql``),
      )(all);
  return rows[0] && toRow(rows[0]);
}

export interface StatusChange {
  title?: string;
  description?: string | null;
  status: string;
}

// SET clause: bare column names; the old row is "tasks".
function setClause(values: StatusChange, v: (name: keyof StatusChange) => unknown): SQL {
  return sql.join(
    [
      ...(values.title !== undefined ? [sql`title = ${v("title")}`] : []),
      ...(values.description !== undefined ? [sql`description = ${v("description")}`] : []),
      sql`status = ${v("status")}`,
      sql`version = tasks.version + 1`,
      sql`updated_at = greatest(clock_timestamp(), tasks.updated_at + interval '1 millisecond')`,
    ],
    sql`, `,
  );
}

type Run = (values: Record<string, unknown>) => Promise<Record<string, any>[]>;

/**
 * A raw statement with placeholders, prepared once per database handle under `name`: db.execute()
 * would rebuild the text on every call and send it unnamed, so PostgreSQL would parse and plan it
 * each time. Same door as db.execute (drizzle's session), answering plain rows.
 */
function statement(db: Db, name: string, build: () => SQL): Run {
  return perHandle(db, `quota:${name}`, (): Run => {
    const { session, dialect } = db as unknown as { session: Session; dialect: { sqlToQuery(query: SQL): unknown } };
    const query = session.prepareQuery(dialect.sqlToQuery(build()), undefined, name, false);
    return async (values) => rowsOf(await query.execute(values));
  });
}
interface Session {
  prepareQuery(
    query: unknown,
    fields: undefined,
    name: string,
    arrayMode: boolean,
  ): { execute(values: Record<string, unknown>): Promise<unknown> };
}

// postgres.js answers an array of rows, PGlite an object holding them.
const rowsOf = (result: unknown): Record<string, any>[] =>
  Array.isArray(result) ? result : (result as { rows: Record<string, any>[] }).rows;

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
const toDate = (v: unknown) =>
  v instanceof Date
    ? v
    : new Date(
        String(v)
          .replace(" ", "T")
          .replace(/([+-]\d\d)$/, "$1:00"),
      );
