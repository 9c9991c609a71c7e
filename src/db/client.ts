import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { DEFAULT_DATABASE_LIMITS, type DatabaseConfig, type DatabaseLimits } from "../config";
import { createGuard, type DbGuard } from "./admission";
import * as schema from "./schema";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: DatabaseConfig["kind"];
  /** Admission in front of the pool: every request's database work goes through `read` or `write`. */
  guard: DbGuard;
  /** Round trip to the server; throws when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// libpq options that Neon's console puts in its URLs. postgres.js would forward any URL parameter it
// does not know to the server as a run-time setting, and PostgreSQL rejects `channel_binding`.
const CLIENT_ONLY_PARAMS = ["sslmode", "channel_binding", "sslrootcert", "sslcert", "sslkey", "sslnegotiation", "connect_timeout", "target_session_attrs", "gssencmode", "pgbouncer"];

export function postgresOptions(config: Extract<DatabaseConfig, { kind: "postgres" }>, limits: DatabaseLimits = DEFAULT_DATABASE_LIMITS) {
  const url = new URL(config.url);
  for (const name of CLIENT_ONLY_PARAMS) url.searchParams.delete(name);
  // "require" in libpq means encrypt without verifying the certificate; verify-* verify it.
  const ssl = config.ssl === undefined || config.ssl === "disable" ? false
    : config.ssl === "verify-ca" || config.ssl === "verify-full" ? ("verify-full" as const)
    : config.ssl === "require" ? ("require" as const) : ("prefer" as const);
  return {
    url: url.toString(),
    options: {
      max: config.poolMax,
      prepare: config.prepare,
      ssl,
      connect_timeout: limits.connectTimeoutMs / 1000,
      // postgres.js waits 3^n/100 s (up to 20 s) before reconnecting after n failed attempts, so after a
      // long outage the service would stay down for seconds once the database is back. Cap it at 1 s.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2),
      idle_timeout: 60,
      max_lifetime: 60 * 30,
      onnotice: () => {},
      // The server cancels a statement that runs too long (and rolls its write back), so no query holds
      // a connection forever. PgBouncer (prepare off) refuses unknown startup parameters: set it on the role there.
      connection: {
        application_name: "tasks-api",
        ...(limits.statementTimeoutMs > 0 && config.prepare ? { statement_timeout: limits.statementTimeoutMs } : {}),
      },
    },
  };
}

export async function openDatabase(config: DatabaseConfig, limits: DatabaseLimits = DEFAULT_DATABASE_LIMITS): Promise<Database> {
  if (config.kind === "postgres") {
    const { url, options } = postgresOptions(config, limits);
    // drizzle() installs its type parsers on the client it is given, so every client goes through it.
    const open = () => {
      const client = postgres(url, options);
      drizzlePostgres(client, { schema });
      return client;
    };
    let client = open();
    // postgres.js on Bun can leave a query pending forever after its connection was killed (or the
    // server froze). The guard notices (no answer well past statement_timeout) and calls replacePool:
    // the service moves to fresh connections instead of waiting for a restart.
    const current = { unsafe: (...args: any[]) => (client.unsafe as any)(...args), begin: (...args: any[]) => (client.begin as any)(...args), get options() { return client.options; } };
    let replacedAt = -Infinity;
    const replacePool = () => {
      // Several requests stuck on the same pool report it together: replace it once.
      if (performance.now() - replacedAt < limits.connectTimeoutMs + 1000) return;
      replacedAt = performance.now();
      const stuck = client;
      client = open();
      void stuck.end({ timeout: 0 }).catch(() => {});
    };
    const deadlineMs = limits.statementTimeoutMs > 0 && config.prepare ? limits.statementTimeoutMs + limits.connectTimeoutMs + 1000 : undefined;
    // postgres.js pipelines queries on a connection; admitting only one per connection cost a third of
    // the throughput (issue 6: GET 23.4k -> 16.7k req/s), so DB_PIPELINE queries per connection get in.
    const guard = createGuard({ permits: config.poolMax * limits.pipeline, queueTimeoutMs: limits.queueTimeoutMs, deadlineMs, onStuck: replacePool });
    const db = drizzlePostgres(current as unknown as postgres.Sql, { schema }) as unknown as Db;
    return {
      db,
      kind: "postgres",
      guard,
      ping: async () => void (await client`select 1`),
      close: () => client.end({ timeout: 5 }),
    };
  }
  const guard = createGuard({ permits: config.poolMax, queueTimeoutMs: limits.queueTimeoutMs });
  // Loaded only when used, so a production build never touches PGlite's WebAssembly files.
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle: drizzlePglite } = await import("drizzle-orm/pglite");
  if (config.dataDir) await Bun.write(`${config.dataDir}/.keep`, "");
  const client = config.dataDir ? new PGlite(config.dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    guard,
    ping: async () => void (await db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}
