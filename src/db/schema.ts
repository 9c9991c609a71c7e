import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgTable, text, timestamp, varchar } from "drizzle-orm/pg-core";
import { DEFAULT_STATUS, TASK_STATUSES } from "../tasks/constants";

const quotedStatuses = sql.raw(TASK_STATUSES.map((s) => `'${s}'`).join(", "));

type Order = Parameters<ReturnType<typeof index>["on"]>;

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
  (table) => {
    // Each sort's index, with and without the status filter, so a list reads the user's tasks in index
    // order (no sort) in both directions (a B-tree reads backwards).
    // `order` is called once per index: desc() and nullsFirst() set state on the column they return.
    const sorted = (name: string, order: () => Order) => [
      index(`tasks_user_${name}_idx`).on(table.userId, ...order()),
      index(`tasks_user_status_${name}_idx`).on(table.userId, table.status, ...order()),
    ];
    return [
      check("tasks_status_check", sql`${table.status} in (${quotedStatuses})`),
      // "This user's tasks, newest first" is the default list.
      ...sorted("created", () => [table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()]),
      ...sorted("updated", () => [table.updatedAt.desc().nullsFirst(), table.id.desc().nullsFirst()]),
      ...sorted("title", () => [table.title, table.id]),
    ];
  },
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
  // Bumped by every write of the user's tasks, in the write's own statement (src/tasks/repository.ts): a
  // list that cached positions in the user's order (src/tasks/anchors.ts) knows whether they still hold.
  generation: bigint("generation", { mode: "number" }).notNull().default(0),
});
