import type { TLiteral } from "@sinclair/typebox";
import { sql } from "drizzle-orm";
import { t } from "elysia";
import { isoFromTimestamp } from "../time";
import { LIST_DEFAULTS, SORTS, TASK_STATUSES } from "./constants";

// Literal unions, not t.UnionEnum: an optional UnionEnum silently defaults to its first value.
// A tuple type, so the union's static type is the values' union (an array type would make it never).
const literals = <const T extends readonly string[]>(values: T) =>
  values.map((value) => t.Literal(value)) as { -readonly [K in keyof T]: TLiteral<T[K]> };

export const TaskStatus = t.Union(literals(TASK_STATUSES), {
  error: `status must be one of ${TASK_STATUSES.join(", ")}`,
});

// Lengths count code points, as PostgreSQL's varchar does: a code point is a character outside the
// surrogate range or a well-formed surrogate pair, so a lone surrogate (which would be stored as U+FFFD)
// matches nothing and is refused. No NUL either: PostgreSQL cannot store it.
const PAIR = "[\\ud800-\\udbff][\\udc00-\\udfff]";
const CHAR = `(?:[^\\u0000\\ud800-\\udfff]|${PAIR})`;
const VISIBLE = `(?:[^\\s\\u0000\\ud800-\\udfff]|${PAIR})`;

// 1 to 255 characters once surrounding white space is trimmed.
const Title = t.String({
  pattern: `^\\s*${VISIBLE}(?:${CHAR}{0,253}${VISIBLE})?\\s*$`,
  error: "title must be 1 to 255 characters after trimming surrounding white space",
  examples: ["Write report"],
});
const Description = t.Union([t.Null(), t.String({ pattern: `^${CHAR}{0,10000}$` })], {
  error: "description must be null or a string of at most 10000 characters",
});

export const TaskCreate = t.Object(
  { title: Title, description: t.Optional(Description), status: t.Optional(TaskStatus) },
  { additionalProperties: false, error: "body must be a JSON object with title and optionally description, status" },
);

export const TaskUpdate = t.Object(
  { title: t.Optional(Title), description: t.Optional(Description), status: t.Optional(TaskStatus) },
  {
    additionalProperties: false,
    minProperties: 1,
    error: "body must be a JSON object with at least one of title, description, status",
  },
);

// Response schemas say additionalProperties themselves: Elysia otherwise adds it to a schema object
// when it first compiles a route's validator, so the OpenAPI document would change once the routes had
// served a request.
const closed = { additionalProperties: false } as const;

export const Task = t.Object(
  {
    id: t.Integer(),
    title: t.String(),
    description: t.Union([t.String(), t.Null()]),
    status: TaskStatus,
    user_id: t.String(),
    created_at: t.String({ format: "date-time" }),
    updated_at: t.String({ format: "date-time" }),
  },
  closed,
);

// Strings with patterns rather than coerced numbers: Elysia's number coercion accepts "0x10" and "1e3"
// and loses the field name in its errors.
export const TaskIdParams = t.Object({
  id: t.String({
    pattern: "^[1-9][0-9]{0,14}$",
    error: "id must be a positive integer (at most 15 digits)",
    examples: ["42"],
  }),
});

export const TaskListQuery = t.Object(
  {
    status: t.Optional(TaskStatus),
    limit: t.Optional(
      t.String({
        pattern: "^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$",
        error: "limit must be an integer from 1 to 500",
        default: String(LIST_DEFAULTS.limit),
      }),
    ),
    // No `default`: Elysia would fill it in, and a cursor with an offset must be told apart from a cursor alone.
    offset: t.Optional(
      t.String({
        pattern: "^(?:0|[1-9][0-9]{0,8})$",
        error: "offset must be an integer from 0 to 999999999",
        description: `How many matching tasks to skip (default ${LIST_DEFAULTS.offset}); not together with \`cursor\`. Deep pages are cheaper by cursor.`,
      }),
    ),
    sort: t.Optional(t.Union(literals(SORTS), { error: `sort must be one of ${SORTS.join(", ")}` })),
    cursor: t.Optional(
      t.String({
        pattern: "^[A-Za-z0-9_-]{1,1400}$",
        error: "cursor must be the value from a Link header, unchanged",
        description:
          'Opaque: continue after the last task of a previous page, from the `cursor` in that answer\'s `Link: <...>; rel="next"` header (same sort and status). Not together with `offset`.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ErrorBody = t.Object({ detail: t.String() }, { ...closed, examples: [{ detail: "Task not found" }] });
export const ValidationErrorBody = t.Object(
  {
    detail: t.Array(t.Object({ loc: t.Array(t.Union([t.String(), t.Number()])), msg: t.String(), type: t.String() })),
  },
  closed,
);

export type TaskCreateInput = typeof TaskCreate.static;
export type TaskUpdateInput = typeof TaskUpdate.static;

/**
 * A tasks row as the statements answer it: the driver's own values, no ORM mapping (src/db/raw.ts).
 * Timestamps are PostgreSQL's text (a Date only from a driver that parses them itself), the bigint id
 * a string with postgres.js.
 */
export interface TaskRecord {
  id: string | number;
  title: string;
  description: string | null;
  status: (typeof TASK_STATUSES)[number];
  user_id: string;
  version: string | number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** The answer's task, straight from the row: the timestamps formatted once each, without a Date. */
export function toTask(row: TaskRecord): typeof Task.static {
  return {
    id: Number(row.id),
    title: row.title,
    description: row.description,
    status: row.status,
    user_id: row.user_id,
    created_at: isoFromTimestamp(row.created_at),
    updated_at: isoFromTimestamp(row.updated_at),
  };
}

/**
 * toTask's JSON built by PostgreSQL from a tasks row, for answers a statement stores itself. Same
 * fields in the same order; to_char's milliseconds truncate as Date does, so the text matches
 * toISOString and isoTime (the replay tests compare the two).
 */
export const taskJsonSql = sql`json_build_object('id', id, 'title', title, 'description', description, 'status', status, 'user_id', user_id,
  'created_at', to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'updated_at', to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text`;

export const etagOf = (row: Pick<TaskRecord, "id" | "version">) => `"${row.id}-${row.version}"`;

/**
 * The versions an If-Match header accepts for task `id`: undefined when there is no header,
 * "any" for `*`, else the listed versions (weak tags never match, as RFC 9110 requires).
 */
export function parseIfMatch(header: string | undefined, id: number): number[] | "any" | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === "*") return "any";
  const versions: number[] = [];
  for (const tag of header.split(",")) {
    const match = /^"(\d+)-(\d+)"$/.exec(tag.trim());
    if (match && Number(match[1]) === id && Number(match[2]) <= 2_147_483_647) versions.push(Number(match[2]));
  }
  return versions;
}
