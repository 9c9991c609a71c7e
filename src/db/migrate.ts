import { sql } from "drizzle-orm";
import { bigint, pgSchema, serial, text } from "drizzle-orm/pg-core";
import type { Db } from "./client";
import { embeddedMigrations } from "./embedded-migrations" with { type: "macro" };

const MIGRATIONS = embeddedMigrations();

// The bookkeeping table drizzle-kit itself uses, so `drizzle-kit migrate` and this agree.
const journal = pgSchema("drizzle").table("__drizzle_migrations", {
  id: serial("id").primaryKey(),
  hash: text("hash").notNull(),
  createdAt: bigint("created_at", { mode: "number" }),
});

// Any constant shared by every replica; a transaction-scoped lock also works behind PgBouncer.
const MIGRATION_LOCK_KEY = 72_830_113;

/** Applies pending migrations in one transaction under an advisory lock; returns how many ran. */
export async function migrate(db: Db): Promise<number> {
  return db.transaction(async (tx) => {
    // A migration (or the wait for another replica's) may outlast the service's statement_timeout.
    await tx.execute(sql`set local statement_timeout = 0`);
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await tx
      .select({ createdAt: journal.createdAt })
      .from(journal)
      .orderBy(sql`${journal.createdAt} desc`)
      .limit(1);
    const pending = MIGRATIONS.filter((m) => m.folderMillis > (last?.createdAt ?? 0));
    for (const migration of pending) {
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.insert(journal).values({ hash: migration.hash, createdAt: migration.folderMillis });
    }
    return pending.length;
  });
}
