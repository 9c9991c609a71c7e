// Preloaded by bunfig.toml: one fresh database for the whole run, dropped at the end.
import { afterAll } from "bun:test";
import postgres from "postgres";
import { type Database, openDatabase } from "../src/db/client";

const adminUrl = process.env.TEST_DATABASE_URL;
let database: Promise<Database> | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let stopPooler: (() => void) | undefined;

/** A PostgreSQL URL for a database that is fresh for this run (only with TEST_DATABASE_URL). */
export async function createFreshDatabase(prefix = "tasks_test"): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const name = `${prefix}_${process.pid}_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** The run's shared, migrated database: PGlite in memory, or PostgreSQL when TEST_DATABASE_URL is set. */
export function testDatabase(): Promise<Database> {
  database ??= (async () => {
    if (!adminUrl) {
      const db = await openDatabase({ kind: "pglite", dataDir: undefined, poolMax: 1 });
      await db.migrate();
      return db;
    }
    const fresh = await createFreshDatabase();
    dropDatabase = fresh.drop;
    let url = fresh.url;
    // TEST_THROUGH_PGBOUNCER=1 (.ci/run sets it for a second pass of the CRUD and fuzz suites): the shared
    // database is reached through a real PgBouncer in transaction mode, prepared statements on.
    if (process.env.TEST_THROUGH_PGBOUNCER === "1") {
      const { startPgBouncer } = await import("./support/pgbouncer");
      const bouncer = await startPgBouncer({ url: fresh.url, password: new URL(fresh.url).password || undefined });
      stopPooler = bouncer.destroy;
      url = bouncer.url;
    }
    const db = await openDatabase({ kind: "postgres", url, poolMax: 10, prepare: true });
    await db.migrate();
    return db;
  })();
  return database;
}

afterAll(async () => {
  if (!database) return;
  await (await database).close();
  stopPooler?.();
  await dropDatabase?.();
});
