import { index, pgTable, primaryKey, smallint, text, timestamp, varchar } from "drizzle-orm/pg-core";

/**
 * The answer to each successful keyed write, kept until `expires_at`. Written in the same transaction
 * as the write it answers, so a committed write always has its key (and a rolled-back one never does).
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    userId: varchar("user_id", { length: 255 }).notNull(),
    key: varchar("key", { length: 255 }).notNull(),
    /** SHA-256 (hex) of method, path and body: a repeat must be the same request. */
    fingerprint: varchar("fingerprint", { length: 64 }).notNull(),
    status: smallint("status").notNull(),
    /** The JSON text that was sent; null for a 204. */
    body: text("body"),
    location: text("location"),
    etag: text("etag"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    // Keys belong to a user: the lookup and the conflict check are one probe of this index.
    primaryKey({ name: "idempotency_keys_pkey", columns: [table.userId, table.key] }),
    // The cleanup takes the oldest expired rows first, in index order.
    index("idempotency_keys_expires_idx").on(table.expiresAt),
  ],
);

export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;
