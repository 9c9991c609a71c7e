// The statements the service sends for each bench scenario, as it renders them (drizzle's prepared
// queries in src/tasks/service.ts, the quota statements of src/tasks/quota.ts, the keyed create of
// src/idempotency/store.ts). The database ceiling and the bare server both run these texts, so the three
// measurements differ only in what sits between the socket and PostgreSQL. Change them together with
// the service.

const COLUMNS = `"id", "title", "description", "status", "user_id", "version", "created_at", "updated_at"`;

export const GET = `select ${COLUMNS} from "tasks" where ("tasks"."id" = $1 and "tasks"."user_id" = $2)`;

/** $1 user, $2 limit, $3 offset; the last column is the total. */
export const LIST = `select ${COLUMNS}, count(*) over () from "tasks" where "tasks"."user_id" = $1 order by "tasks"."created_at" desc, "tasks"."id" desc limit $2 offset $3`;

/** $1 title, $2 description, $3 status, $4 user, $5 the task limit (0: none). */
export const CREATE = `
    with counted as (
      insert into task_counts (user_id, total) values ($4, 1)
      on conflict (user_id) do update set total = task_counts.total + 1
      where $5::integer = 0 or task_counts.total < $5::integer
      returning user_id
    )
    insert into tasks (title, description, status, user_id)
    select $1, $2, $3, user_id from counted
    returning *`;

/** CREATE's parameters, then $6 key, $7 fingerprint, $8 time to live ("86400 seconds"). */
export const CREATE_KEYED = `
    with counted as (
      insert into task_counts (user_id, total) values ($4, 1)
      on conflict (user_id) do update set total = task_counts.total + 1
      where $5::integer = 0 or task_counts.total < $5::integer
      returning user_id
    ), created as (
      insert into tasks (title, description, status, user_id)
      select $1, $2, $3, user_id from counted
      returning *
    ), recorded as (
      insert into idempotency_keys (user_id, key, fingerprint, status, body, location, etag, expires_at)
      select user_id, $6, $7, 201,
        json_build_object('id', id, 'title', title, 'description', description, 'status', status, 'user_id', user_id,
          'created_at', to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'updated_at', to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
        '/api/tasks/' || id, '"' || id || '-' || version || '"', now() + $8::interval
      from created
      on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, status = excluded.status,
        body = excluded.body, location = excluded.location, etag = excluded.etag, expires_at = excluded.expires_at
      where idempotency_keys.expires_at <= now()
      returning 1
    )
    select created.*, case when exists (select 1 from recorded) then 1 else ('idempotency key taken for ' || created.id)::integer end as recorded
    from created`;

/** $1 title, $2 status, $3 id, $4 user: the bench's PUT changes title and status. */
export const UPDATE = `update "tasks" set "title" = $1, "status" = $2, "version" = "tasks"."version" + 1, "updated_at" = greatest(clock_timestamp(), "tasks"."updated_at" + interval '1 millisecond') where ("tasks"."id" = $3 and "tasks"."user_id" = $4) returning ${COLUMNS}`;

/** $1 id, $2 user. */
export const DELETE = `
    with deleted as (
      delete from tasks where id = $1 and user_id = $2  returning id
    ), counted as (
      update task_counts set total = greatest(total - 1, 0) where user_id = $2 and exists (select 1 from deleted)
    )
    select id from deleted`;
