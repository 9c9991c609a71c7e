import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Db } from "../db/client";
import { perHandle } from "../db/per-handle";
import { prepareRaw, type RawStatement } from "../db/raw";
import { taskCounts, tasks } from "../db/schema";
import { ANCHOR_EVERY, AnchorCache, type Anchors, spacingFor } from "./anchors";
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
 *   read for the page's rows only), from the nearest known position: an anchor (src/tasks/anchors.ts)
 *   when this process has valid ones for the list, else the nearer end, so no offset steps over more
 *   than ANCHOR_EVERY entries once the list's anchors are known, nor over more than half of them before.
 * The extra row says whether a next page exists (then `next` is the position of the page's last task).
 */
export async function listTasks(db: Db, userId: string, q: ListInput): Promise<ListPage> {
  if (q.offset > 0 && !q.after) return listByOffset(db, userId, q);
  const rows = await run(db, userId, q, q.after ? "after" : "first", { key: q.after?.key, id: q.after?.id });
  return pageOf(db, userId, q, rows);
}

export type ListMode = "first" | "after" | "offset" | "anchored";

function run(db: Db, userId: string, q: ListInput, mode: ListMode, extra: Record<string, unknown> = {}) {
  const name = `list_${q.sort.replace("-", "desc_")}_${q.status ?? "all"}_${mode}`;
  const statements = listStatements(db);
  let statement = statements.get(name);
  if (!statement) {
    // Raw rows (src/db/raw.ts): the task's columns, `key` and `total`, without drizzle's mapping.
    statement = prepareRaw<ListRow>(db, name, listQuery(db, q.sort, q.status, mode).getSQL());
    statements.set(name, statement);
  }
  return statement({ userId, status: q.status, limit: q.limit + 1, offset: q.offset, ...extra });
}

async function pageOf(db: Db, userId: string, q: ListInput, rows: ListRow[]): Promise<ListPage> {
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

/**
 * An offset page from the nearest anchor when this process has anchors for the list; the statement
 * itself falls back to the walk from the nearer end if the user's tasks changed since they were taken
 * (it answers the generation it saw, so the stale anchors are dropped). A walk over more than
 * ANCHOR_EVERY entries then takes the list's anchors (one more index-only scan of it, paid by this
 * request of this user), so the next deep page of the same list costs what a shallow one does.
 */
async function listByOffset(db: Db, userId: string, q: ListInput): Promise<ListPage> {
  const cache = anchorCaches(db);
  const cacheKey = `${userId}\u0000${q.sort}\u0000${q.status ?? ""}`;
  const anchors = cache.get(cacheKey);
  const at = anchors ? Math.floor(q.offset / anchors.every) - 1 : -1;
  let rows: ListRow[];
  let walked = true;
  if (anchors && at >= 0 && at < anchors.points.length) {
    const anchor = anchors.points[at]!;
    rows = await run(db, userId, q, "anchored", {
      key: anchor.key,
      id: anchor.id,
      from: q.offset - (at + 1) * anchors.every,
      generation: anchors.generation,
    });
    // No row: past the end (or nothing), whichever branch ran; the anchors may still be good.
    walked = rows.length > 0 && Number(rows[0]!.generation) !== anchors.generation;
    if (walked) cache.delete(cacheKey);
  } else rows = await run(db, userId, q, "offset");
  const total = Number(rows[0]?.total ?? 0);
  if (walked && Math.min(q.offset, total - q.offset - q.limit) > ANCHOR_EVERY) {
    const taken = await anchorsOf(db, userId, q.sort, q.status, spacingFor(total));
    if (taken) cache.set(cacheKey, taken);
  }
  return pageOf(db, userId, q, rows);
}

// The prepared statement of each list shape (sort, filter, mode: 72 at most), by its name.
type ListRow = TaskRecord & { key: string; total: number | string; generation?: string | null };
const listStatements = perHandle(() => new Map<string, RawStatement<ListRow>>());
const anchorCaches = perHandle(() => new AnchorCache());
type AnchorRow = { key: string; id: number | string; generation: string | null };
const anchorStatements = perHandle(() => new Map<string, RawStatement<AnchorRow>>());
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
  const scope = scopeOf(status);
  const counter = (c: PgColumn) => sql`(select ${c} from ${taskCounts} where ${taskCounts.userId} = ${p("userId")})`;
  const fields = {
    task: tasks,
    // Named, as the rows are read by column name (a bare title would be a second "title").
    key: keyOf(column).as("key"),
    total: sql<number>`coalesce(${counter(COUNTERS[status ?? "all"])}, 0)`.as("total"),
    ...(mode === "anchored"
      ? { generation: sql<string | null>`${counter(taskCounts.generation)}::text`.as("generation") }
      : {}),
  };
  if (mode === "offset" || mode === "anchored") {
    // The page's ids from the index alone, walked from whichever end of the user's (filtered) tasks is
    // nearer: the counter says how many there are, in this statement's snapshot, so offset 9,000 of
    // 10,000 steps over 979 entries backwards, not 9,000 forwards. Only one branch runs (the others'
    // one-time filters are false). `= any(array(...))` fetches the page's rows by primary key; a join
    // could be planned as a hash join over the whole table when the page size is not known at planning.
    // Anchored, a third branch starts at the anchor (its key and id, at position `offset - from`) and
    // skips `from` entries; it runs only when the generation is the anchors' one, the walks only when not.
    const n = sql`coalesce(${counter(COUNTERS[status ?? "all"])}, 0)`;
    const reverse = descending ? [asc(column), asc(tasks.id)] : [desc(column), desc(tasks.id)];
    const [limit, offset] = [sql`${p("limit")}::bigint`, sql`${p("offset")}::bigint`];
    const current = counter(taskCounts.generation);
    const walk = mode === "anchored" ? sql` and ${current} is distinct from ${p("generation")}::bigint` : sql``;
    const fromAnchor =
      mode === "anchored"
        ? sql`(select ${tasks.id} from ${tasks} where ${scope} and ${current} = ${p("generation")}::bigint
        and ${keyset(column, descending, true)}
        order by ${sql.join(order, sql`, `)} limit ${limit} offset ${p("from")}::bigint)
      union all`
        : sql``;
    const ids = sql`
      ${fromAnchor}
      (select ${tasks.id} from ${tasks} where ${scope}${walk} and ${offset} * 2 < ${n}
        order by ${sql.join(order, sql`, `)} limit ${limit} offset ${offset})
      union all
      (select ${tasks.id} from ${tasks} where ${scope}${walk} and ${offset} * 2 >= ${n}
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

const scopeOf = (status: TaskStatus | undefined) =>
  status ? and(eq(tasks.userId, p("userId")), eq(tasks.status, p("status"))) : eq(tasks.userId, p("userId"));

// The timestamp to the microsecond, as text: a cursor or an anchor must hold exactly what the index holds.
const keyOf = (column: PgColumn | SQL.Aliased, isTitle = column === tasks.title) =>
  isTitle
    ? sql<string>`${column}`
    : sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The list's anchors: the key and id at every `every`-th position (0-based, from `every` on), and the
 * generation of the user's tasks they belong to, read in one statement (one snapshot). One index-only
 * scan of the user's matching entries; undefined when the user has no counter row or no anchor.
 */
async function anchorsOf(
  db: Db,
  userId: string,
  sort: Sort,
  status: TaskStatus | undefined,
  every: number,
): Promise<Anchors | undefined> {
  const name = `anchors_${sort.replace("-", "desc_")}_${status ?? "all"}`;
  const statements = anchorStatements(db);
  let statement = statements.get(name);
  if (!statement) {
    statement = prepareRaw<AnchorRow>(db, name, anchorsQuery(db, sort, status).getSQL());
    statements.set(name, statement);
  }
  const rows = await statement({ userId, status, every });
  const generation = rows[0]?.generation;
  if (generation === null || generation === undefined) return undefined;
  return { generation: Number(generation), every, points: rows.map((r) => ({ key: r.key, id: Number(r.id) })) };
}

/** The statement that takes a list's anchors (placeholders userId, status, every). */
export function anchorsQuery(db: Db, sort: Sort, status: TaskStatus | undefined) {
  const { column, descending } = SORT_COLUMNS[sort];
  const order = descending ? [desc(column), desc(tasks.id)] : [asc(column), asc(tasks.id)];
  const ranked = db
    .select({
      sortKey: sql`${column}`.as("sort_key"),
      id: tasks.id,
      position: sql<number>`row_number() over (order by ${sql.join(order, sql`, `)}) - 1`.as("position"),
    })
    .from(tasks)
    .where(scopeOf(status))
    .as("ranked");
  return db
    .select({
      key: keyOf(ranked.sortKey, column === tasks.title).as("key"),
      id: ranked.id,
      generation: sql<
        string | null
      >`(select ${taskCounts.generation} from ${taskCounts} where ${taskCounts.userId} = ${p("userId")})::text`.as(
        "generation",
      ),
    })
    .from(ranked)
    .where(sql`${ranked.position} > 0 and ${ranked.position} % ${p("every")}::bigint = 0`)
    .orderBy(ranked.position);
}

// Strictly after the position in the sort's direction (`from`: at it or after). Every sort column is NOT
// NULL, and the title is compared in the column's own collation, the one its index and ORDER BY use.
function keyset(column: PgColumn, descending: boolean, from = false): SQL {
  const key = column === tasks.title ? sql`${p("key")}` : sql`${p("key")}::timestamptz`;
  const op = sql.raw(`${descending ? "<" : ">"}${from ? "=" : ""}`);
  return sql`(${column}, ${tasks.id}) ${op} (${key}, ${p("id")}::bigint)`;
}

async function countOf(db: Db, userId: string, status: TaskStatus | undefined): Promise<number> {
  const rows = await countStatements(db)[status ?? "all"].execute({ userId });
  return rows[0]?.total ?? 0;
}
