import { and, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { idempotencyKeys, type IdempotencyKeyRow } from "./schema";

export type StoredAnswer = Pick<IdempotencyKeyRow, "fingerprint" | "status" | "body" | "location" | "etag">;

const excluded = (column: string) => sql.raw(`excluded.${column}`);

/**
 * Records the answer in the caller's transaction; false when the key is already taken by an unexpired
 * answer. A concurrent request with the same key waits here on the primary key until the other
 * transaction ends: it commits (false, and the caller replays) or rolls back (true, this one stands).
 * An expired row is overwritten in place, so expiry needs no cleanup to be correct.
 */
export async function recordAnswer(tx: Db, userId: string, key: string, answer: StoredAnswer, ttlSeconds: number): Promise<boolean> {
  const rows = await tx.insert(idempotencyKeys)
    .values({ userId, key, ...answer, expiresAt: sql`now() + ${`${ttlSeconds} seconds`}::interval` })
    .onConflictDoUpdate({
      target: [idempotencyKeys.userId, idempotencyKeys.key],
      set: {
        fingerprint: excluded("fingerprint"), status: excluded("status"), body: excluded("body"),
        location: excluded("location"), etag: excluded("etag"), expiresAt: excluded("expires_at"),
      },
      setWhere: sql`${idempotencyKeys.expiresAt} <= now()`,
    })
    .returning({ status: idempotencyKeys.status });
  return rows.length === 1;
}

const lookups = new WeakMap<Db, ReturnType<typeof buildLookup>>();
const buildLookup = (db: Db) => db
  .select({ fingerprint: idempotencyKeys.fingerprint, status: idempotencyKeys.status, body: idempotencyKeys.body, location: idempotencyKeys.location, etag: idempotencyKeys.etag })
  .from(idempotencyKeys)
  .where(and(eq(idempotencyKeys.userId, sql.placeholder("userId")), eq(idempotencyKeys.key, sql.placeholder("key")), gt(idempotencyKeys.expiresAt, sql`now()`)))
  .prepare("idempotency_lookup");

/** The unexpired answer stored under the user's key, if any: one primary-key probe. */
export async function findAnswer(db: Db, userId: string, key: string): Promise<StoredAnswer | undefined> {
  let lookup = lookups.get(db);
  if (!lookup) lookups.set(db, (lookup = buildLookup(db)));
  const [row] = await lookup.execute({ userId, key });
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
