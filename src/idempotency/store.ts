import { and, eq, gt, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { perHandle } from "../db/per-handle";
import { type IdempotencyKeyRow, idempotencyKeys } from "./schema";

export type StoredAnswer = Pick<IdempotencyKeyRow, "fingerprint" | "status" | "body" | "location" | "etag">;

const excluded = (column: string) => sql.raw(`excluded.${column}`);

/**
 * Records the answer in the caller's transaction; false when the key is already taken by an unexpired
 * answer. A concurrent request with the same key waits here on the primary key until the other
 * transaction ends: it commits (false, and the caller replays) or rolls back (true, this one stands).
 * An expired row is overwritten in place, so expiry needs no cleanup to be correct.
 */
export async function recordAnswer(
  tx: Db,
  userId: string,
  key: string,
  answer: StoredAnswer,
  ttlSeconds: number,
): Promise<boolean> {
  const rows = await tx
    .insert(idempotencyKeys)
    .values({ userId, key, ...answer, expiresAt: sql`now() + ${`${ttlSeconds} seconds`}::interval` })
    .onConflictDoUpdate({
      target: [idempotencyKeys.userId, idempotencyKeys.key],
      set: {
        fingerprint: excluded("fingerprint"),
        status: excluded("status"),
        body: excluded("body"),
        location: excluded("location"),
        etag: excluded("etag"),
        expiresAt: excluded("expires_at"),
      },
      setWhere: sql`${idempotencyKeys.expiresAt} <= now()`,
    })
    .returning({ status: idempotencyKeys.status });
  return rows.length === 1;
}

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
 * trip, no BEGIN and COMMIT. Same conflict rule as recordAnswer: an unexpired key stays as it is and
 * `recorded` is empty, and then `keyCheck` in the final select aborts the whole statement, write
 * included. A concurrent request with the same key waits here on the primary key, as in recordAnswer.
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

/** Whether a statement with keyCheck failed because the key was taken (22P02: the cast). */
export function isKeyTaken(error: unknown): boolean {
  for (let e: any = error, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e.code === "22P02" && typeof e.message === "string" && e.message.includes(KEY_TAKEN)) return true;
  }
  return false;
}

const buildLookup = (db: Db) =>
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
    .prepare("idempotency_lookup");

/** The unexpired answer stored under the user's key, if any: one primary-key probe. */
export async function findAnswer(db: Db, userId: string, key: string): Promise<StoredAnswer | undefined> {
  const [row] = await perHandle(db, "idempotency:lookup", () => buildLookup(db)).execute({ userId, key });
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
