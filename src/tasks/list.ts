import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Db } from "../db/client";
import { perHandle } from "../db/per-handle";
import { prepareRaw, type RawStatement } from "../db/raw";
import { taskCounts, tasks } from "../db/schema";
import type { Sort, TaskStatus } from "./constants";
import type { Position } from "./cursor";
import type { TaskRecord } from "./model";

export interface ListInput {
  status?: TaskStatus;
  limit: number;
  offset: number;
  sort: Sort;
  after?: Position;
}
export interface ListPage {
  rows: TaskRecord[];
  total: number;
  next?: Position;
}

const SORT_COLUMNS: Record<Sort, { column: PgColumn; descending: boolean }> = {
  created_at: { column: tasks.createdAt, descending: false },
  "-created_at": { column: tasks.createdAt, descending: true },
  updated_at: { column: tasks.updatedAt, descending: false },
  "-updated_at": { column: tasks.updatedAt, descending: true },
  title: { column: tasks.title, descending: false },
  "-title": { column: tasks.title, descending: true },
};

const COUNTERS: Record<TaskStatus | "all", PgColumn> = {
  all: taskCounts.total,
  pending: taskCounts.pending,
  in_progress: taskCounts.inProgress,
  completed: taskCounts.completed,
};
const p = sql.placeholder;

/**
 * Every shape reads an index on (user_id[, status], sort key, id), and X-Total-Count is the user's
 * counter row (task_counts), read in the same statement: no list reads all of the user's tasks.
 * - first page: `limit + 1` entries from the start of the index;
 * - `after` (a cursor): `limit + 1` entries from where the row comparison (key, id) > (cursor's key, id)
 *   starts the index scan, right after the previous page's last task: the hundredth page costs what
 *   the first does;
 * - `offset`: the skipped entries are read from the index alone (an index-only scan of ids; the table is
 *   read for the page's rows only), from the nearer end, so no offset steps over more than half of
 *   the user's tasks: cheaper, not free.
 * The extra row says whether a next page exists (then `next` is the position of the page's last task).
 */
export async function listTasks(db: Db, userId: string, q: ListInput): Promise<ListPage> {
  const mode: ListMode = q.after ? "after" : q.offset > 0 ? "offset" : "first";
  const name = `list_${q.sort.replace("-", "desc_")}_${q.status ?? "all"}_${mode}`;
  const statements = listStatements(db);
  let statement = statements.get(name);
  if (!statement) {
    // Raw rows (src/db/raw.ts): the task's columns, `key` and `total`, without drizzle's mapping.
    statement = prepareRaw<ListRow>(db, name, listQuery(db, q.sort, q.status, mode).getSQL());
    statements.set(name, statement);
  }
  const rows = await statement({
    userId,
    status: q.status,
    limit: q.limit + 1,
    offset: q.offset,
    key: q.after?.key,
    id: q.after?.id,
  });
  if (rows.length === 0)
    return { rows: [], total: q.offset === 0 && !q.after ? 0 : await countOf(db, userId, q.status) };
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1]!;
  return {
    rows: page,
    total: Number(rows[0]!.total),
    next: rows.length > q.limit ? { sort: q.sort, status: q.status, key: last.key, id: Number(last.id) } : undefined,
  };
}

export type ListMode = "first" | "after" | "offset";

// The prepared statement of each list shape (sort, filter, mode: 72 at most), by its name.
type ListRow = TaskRecord & { key: string; total: number | string };
const listStatements = perHandle(() => new Map<string, RawStatement<ListRow>>());
const countStatements = perHandle((db) => {
  const count = (status: TaskStatus | undefined) =>
    db
      .select({ total: sql<number>`${COUNTERS[status ?? "all"]}`.mapWith(Number) })
      .from(taskCounts)
      .where(eq(taskCounts.userId, p("userId")))
      .prepare(`count_${status ?? "all"}`);
  return {
    all: count(undefined),
    pending: count("pending"),
    in_progress: count("in_progress"),
    completed: count("completed"),
  };
});

/** The statement of one list shape, placeholders unbound (bench/list-cost.ts explains it). */
export function listQuery(db: Db, sort: Sort, status: TaskStatus | undefined, mode: ListMode) {
  const { column, descending } = SORT_COLUMNS[sort];
  const order = descending ? [desc(column), desc(tasks.id)] : [asc(column), asc(tasks.id)];
  const scope = status
    ? and(eq(tasks.userId, p("userId")), eq(tasks.status, p("status")))
    : eq(tasks.userId, p("userId"));
  const fields = {
    task: tasks,
    // The timestamp to the microsecond, as text: the cursor must hold exactly what the index holds.
    // Named, as the rows are read by column name (a bare title would be a second "title").
    key: (column === tasks.title
      ? sql<string>`${column}`
      : sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
    ).as("key"),
    total:
      sql<number>`coalesce((select ${COUNTERS[status ?? "all"]} from ${taskCounts} where ${taskCounts.userId} = ${p("userId")}), 0)`.as(
        "total",
      ),
  };
  if (mode === "offset") {
    // The page's ids from the index alone, walked from whichever end of the user's (filtered) tasks is
    // nearer: the counter says how many there are, in this statement's snapshot, so offset 9,000 of
    // 10,000 steps over 979 entries backwards, not 9,000 forwards. Only one branch runs (the other's
    // one-time filter is false). `= any(array(...))` fetches the page's rows by primary key; a join
    // could be planned as a hash join over the whole table when the page size is not known at planning.
    const n = sql`coalesce((select ${COUNTERS[status ?? "all"]} from ${taskCounts} where ${taskCounts.userId} = ${p("userId")}), 0)`;
    const reverse = descending ? [asc(column), asc(tasks.id)] : [desc(column), desc(tasks.id)];
    const [limit, offset] = [sql`${p("limit")}::bigint`, sql`${p("offset")}::bigint`];
    const ids = sql`
      (select ${tasks.id} from ${tasks} where ${scope} and ${offset} * 2 < ${n}
        order by ${sql.join(order, sql`, `)} limit ${limit} offset ${offset})
      union all
      (select ${tasks.id} from ${tasks} where ${scope} and ${offset} * 2 >= ${n}
        order by ${sql.join(reverse, sql`, `)}
        limit greatest(least(${offset} + ${limit}, ${n}) - ${offset}, 0) offset greatest(${n} - ${offset} - ${limit}, 0))`;
    return db
      .select(fields)
      .from(tasks)
      .where(and(eq(tasks.userId, p("userId")), sql`${tasks.id} = any(array(${ids}))`))
      .orderBy(...order);
  }
  const where = mode === "after" ? and(scope, keyset(column, descending)) : scope;
  return db
    .select(fields)
    .from(tasks)
    .where(where)
    .orderBy(...order)
    .limit(p("limit"));
}

// Strictly after the position in the sort's direction. Every sort column is NOT NULL, and the title is
// compared in the column's own collation, the one its index and ORDER BY use.
function keyset(column: PgColumn, descending: boolean): SQL {
  const key = column === tasks.title ? sql`${p("key")}` : sql`${p("key")}::timestamptz`;
  return descending
    ? sql`(${column}, ${tasks.id}) < (${key}, ${p("id")}::bigint)`
    : sql`(${column}, ${tasks.id}) > (${key}, ${p("id")}::bigint)`;
}

async function countOf(db: Db, userId: string, status: TaskStatus | undefined): Promise<number> {
  const rows = await countStatements(db)[status ?? "all"].execute({ userId });
  return rows[0]?.total ?? 0;
}
