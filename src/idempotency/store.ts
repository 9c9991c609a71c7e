import { and, eq, gt, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { perHandle } from "../db/per-handle";
import { type IdempotencyKeyRow, idempotencyKeys } from "./schema";

export type StoredAnswer = Pick<IdempotencyKeyRow, "fingerprint" | "status" | "body" | "location" | "etag">;

/** What a write statement needs to record its own answer under a key. */
export interface KeyRecord {
  userId: string;
  key: string;
  fingerprint: string;
  ttlSeconds: number;
}

/** The answer's parts as SQL expressions over the rows of the statement's CTE `source`. */
export interface AnswerSql {
  status: number;
  body: SQL;
  location: SQL;
  etag: SQL;
}

/**
 * The CTE `recorded` of a write statement that records its answer itself: the key is inserted from the
 * rows the write returned (in CTE `source`), so the write and its key are one statement, one round
 * trip, no BEGIN and COMMIT. An expired key is overwritten in place, so expiry needs no cleanup to be
 * correct; an unexpired one stays as it is, `recorded` is empty, and then `keyCheck` in the final
 * select aborts the whole statement, write included. A concurrent request with the same key waits
 * here on the primary key until the other statement ends: it commits (this one is rolled back and
 * replays its answer) or rolls back (this one stands).
 */
export function recordedCte(
  source: string,
  record: { [K in keyof KeyRecord]: KeyRecord[K] | Placeholder },
  answer: AnswerSql,
): SQL {
  return sql`recorded as (
      insert into idempotency_keys (user_id, key, fingerprint, status, body, location, etag, expires_at)
      select ${record.userId}, ${record.key}, ${record.fingerprint}, ${answer.status}, ${answer.body}, ${answer.location}, ${answer.etag},
        now() + ${record.ttlSeconds}::integer * interval '1 second'
      from ${sql.raw(source)}
      on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body,
        location = excluded.location, etag = excluded.etag, expires_at = excluded.expires_at
      where idempotency_keys.expires_at <= now()
      returning 1
    )`;
}

// SQL has no RAISE outside PL/pgSQL: a failing cast is the error. It is not a constant (it names the
// row), so PostgreSQL evaluates it only on the branch taken.
const KEY_TAKEN = "idempotency key taken";

/** A column for the final select: 1 when the key was recorded, else an error that rolls the statement back. */
export const keyCheck = (id: SQL) =>
  sql`case when exists (select 1 from recorded) then 1 else (${sql.raw(`'${KEY_TAKEN} for '`)} || ${id})::integer end`;

interface Caused {
  code?: unknown;
  message?: unknown;
  cause?: Caused;
}

/** Whether a statement with keyCheck failed because the key was taken (22P02: the cast). */
export function isKeyTaken(error: unknown): boolean {
  for (let e = error as Caused | undefined, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e.code === "22P02" && typeof e.message === "string" && e.message.includes(KEY_TAKEN)) return true;
  }
  return false;
}

const lookup = perHandle((db) =>
  db
    .select({
      fingerprint: idempotencyKeys.fingerprint,
      status: idempotencyKeys.status,
      body: idempotencyKeys.body,
      location: idempotencyKeys.location,
      etag: idempotencyKeys.etag,
    })
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.userId, sql.placeholder("userId")),
        eq(idempotencyKeys.key, sql.placeholder("key")),
        gt(idempotencyKeys.expiresAt, sql`now()`),
      ),
    )
    .prepare("idempotency_lookup"),
);

/** The unexpired answer stored under the user's key, if any: one primary-key probe. */
export async function findAnswer(db: Db, userId: string, key: string): Promise<StoredAnswer | undefined> {
  const [row] = await lookup(db).execute({ userId, key });
  return row;
}

/**
 * Deletes up to `limit` expired rows, oldest first; returns how many. SKIP LOCKED: replicas cleaning at
 * the same moment, or a write reusing an expired key, never wait for each other.
 */
export async function deleteExpired(db: Db, limit: number): Promise<number> {
  const rows = await db.execute(sql`
    delete from ${idempotencyKeys} where (user_id, key) in (
      select user_id, key from ${idempotencyKeys} where expires_at <= now()
      order by expires_at limit ${limit} for update skip locked)
    returning 1`);
  return Array.isArray(rows) ? rows.length : ((rows as { rows?: unknown[] }).rows?.length ?? 0);
}
