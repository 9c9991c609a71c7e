// The statements the service sends for each bench scenario, exactly as it sends them (the statements of
// src/tasks/repository.ts and the first page of src/tasks/list.ts, parameters numbered as drizzle numbers
// them: one per occurrence). The database ceiling and the bare servers run these texts, so the
// measurements differ only in what sits between the socket and PostgreSQL; test/bench-sql.test.ts fails
// when the service's texts move away from them.

const COLUMNS = `"id", "title", "description", "status", "user_id", "version", "created_at", "updated_at"`;

export const GET = `select ${COLUMNS} from "tasks" where ("tasks"."id" = $1 and "tasks"."user_id" = $2)`;

/** $1 and $2 the user, $3 limit + 1 (the extra row says whether a next page exists); the last column is the total (src/tasks/list.ts). */
export const LIST = `select ${COLUMNS}, to_char("created_at" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "key", coalesce((select "task_counts"."total" from "task_counts" where "task_counts"."user_id" = $1), 0) as "total" from "tasks" where "tasks"."user_id" = $2 order by "tasks"."created_at" desc, "tasks"."id" desc limit $3`;
export const listParams = (userId: string, limit: number) => [userId, userId, limit];

// The task's counters and the insert: the first CTE and the body of CREATE, the first two CTEs of CREATE_KEYED.
const COUNTED = `counted as (
      insert into task_counts (user_id, total, pending, in_progress, completed)
      values ($1, 1, ($2::text = 'pending')::integer, ($3::text = 'in_progress')::integer, ($4::text = 'completed')::integer)
      on conflict (user_id) do update set total = task_counts.total + 1, pending = task_counts.pending + excluded.pending,
        in_progress = task_counts.in_progress + excluded.in_progress, completed = task_counts.completed + excluded.completed,
        generation = task_counts.generation + 1
      where $5::integer = 0 or task_counts.total < $6::integer
      returning user_id
    )`;
const INSERT = `insert into tasks (title, description, status, user_id)
    select $7, $8, $9, user_id from counted
    returning *`;

/** $1 user, $2-$4 the status (one per counter), $5 and $6 the task limit (0: none), $7 title, $8 description, $9 status. */
export const CREATE = `with ${COUNTED} ${INSERT}`;
export const createParams = (
  title: string,
  description: string | null,
  status: string,
  userId: string,
  max: number,
) => [userId, status, status, status, max, max, title, description, status];

/** CREATE's parameters, then $10 user, $11 key, $12 fingerprint, $13 the stored status (201), $14 time to live in seconds. */
export const CREATE_KEYED = `with ${COUNTED}, created as (${INSERT}), recorded as (
      insert into idempotency_keys (user_id, key, fingerprint, status, body, location, etag, expires_at)
      select $10, $11, $12, $13, json_build_object('id', id, 'title', title, 'description', description, 'status', status, 'user_id', user_id,
  'created_at', to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'updated_at', to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text, '/api/tasks/' || id, '"' || id || '-' || version || '"',
        now() + $14::integer * interval '1 second'
      from created
      on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body,
        location = excluded.location, etag = excluded.etag, expires_at = excluded.expires_at
      where idempotency_keys.expires_at <= now()
      returning 1
    )
    select created.*, case when exists (select 1 from recorded) then 1 else ('idempotency key taken for ' || created.id)::integer end as recorded from created`;
export const createKeyedParams = (
  title: string,
  description: string | null,
  status: string,
  userId: string,
  max: number,
  key: string,
  fingerprint: string,
  ttlSeconds: number,
) => [...createParams(title, description, status, userId, max), userId, key, fingerprint, 201, ttlSeconds];

/**
 * $1 id, $2 user, $3 and $4 the If-Match versions (null: none), $5 title (null: unchanged), $6 whether
 * the description changes, $7 the description, $8 status, $9 user: the bench's PUT changes title and
 * status, so the counters move too.
 */
export const UPDATE = `with old as (
      select id, status from tasks where id = $1 and user_id = $2 and ($3::text is null or version = any(string_to_array($4::text, ',')::integer[])) for update
    ), changed as (
      update tasks set title = coalesce($5::varchar, title),
      description = case when $6::boolean then $7::text else description end, status = $8, version = version + 1, updated_at = greatest(clock_timestamp(), updated_at + interval '1 millisecond')
      from old where tasks.id = old.id returning tasks.*, old.status as old_status
    ), counted as (
      update task_counts c set
        pending = c.pending + (ch.status = 'pending')::int - (ch.old_status = 'pending')::int,
        in_progress = c.in_progress + (ch.status = 'in_progress')::int - (ch.old_status = 'in_progress')::int,
        completed = c.completed + (ch.status = 'completed')::int - (ch.old_status = 'completed')::int,
        generation = c.generation + 1
      from changed ch where c.user_id = $9
    ) select * from changed`;
/** The UPDATE's parameters for a PUT of title and status without If-Match. */
export const updateParams = (id: number, userId: string, title: string, status: string) => [
  id,
  userId,
  null,
  null,
  title,
  false,
  null,
  status,
  userId,
];

/** $1 id, $2 user, $3 and $4 the If-Match versions (null: none), $5 user. */
export const DELETE = `with deleted as (
      delete from tasks where id = $1 and user_id = $2 and ($3::text is null or version = any(string_to_array($4::text, ',')::integer[])) returning id, status
    ), counted as (
      update task_counts c set total = greatest(c.total - 1, 0),
        pending = greatest(c.pending - (d.status = 'pending')::int, 0),
        in_progress = greatest(c.in_progress - (d.status = 'in_progress')::int, 0),
        completed = greatest(c.completed - (d.status = 'completed')::int, 0),
        generation = c.generation + 1
      from deleted d where c.user_id = $5
    ) select id from deleted`;
export const deleteParams = (id: number, userId: string) => [id, userId, null, null, userId];
