import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgTable, text, timestamp, varchar } from "drizzle-orm/pg-core";
import { DEFAULT_STATUS, TASK_STATUSES } from "../tasks/constants";

const quotedStatuses = sql.raw(TASK_STATUSES.map((s) => `'${s}'`).join(", "));

export const tasks = pgTable(
  "tasks",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    title: varchar("title", { length: 255 }).notNull(),
    description: text("description"),
    status: varchar("status", { length: 16, enum: TASK_STATUSES }).notNull().default(DEFAULT_STATUS),
    userId: varchar("user_id", { length: 255 }).notNull(),
    // Bumped by every update; the ETag is id + version, so If-Match is one indexed comparison.
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    check("tasks_status_check", sql`${table.status} in (${quotedStatuses})`),
    // "This user's tasks, newest first", with and without a status filter, read in index order (no sort).
    index("tasks_user_created_idx").on(table.userId, table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    index("tasks_user_status_created_idx").on(
      table.userId,
      table.status,
      table.createdAt.desc().nullsFirst(),
      table.id.desc().nullsFirst(),
    ),
    // The other sorts, both directions (a B-tree reads backwards), so no list sorts a user's rows.
    index("tasks_user_updated_idx").on(table.userId, table.updatedAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    index("tasks_user_status_updated_idx").on(
      table.userId,
      table.status,
      table.updatedAt.desc().nullsFirst(),
      table.id.desc().nullsFirst(),
    ),
    index("tasks_user_title_idx").on(table.userId, table.title, table.id),
    index("tasks_user_status_title_idx").on(table.userId, table.status, table.title, table.id),
  ],
);

/**
 * How many tasks each user holds, in all and per status, kept by the create, delete and status-changing
 * update statements themselves: the quota check is one row locked and bumped in the insert's own
 * statement, so concurrent creates cannot overshoot, and a list's X-Total-Count is one row read.
 */
export const taskCounts = pgTable("task_counts", {
  userId: varchar("user_id", { length: 255 }).primaryKey(),
  total: integer("total").notNull(),
  pending: integer("pending").notNull().default(0),
  inProgress: integer("in_progress").notNull().default(0),
  completed: integer("completed").notNull().default(0),
});

export type TaskRow = typeof tasks.$inferSelect;
