import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { type DatabaseConfig, type DatabaseLimits, DEFAULT_DATABASE_LIMITS } from "../config";
import { createGuard, type DbGuard } from "./admission";
import { migrate } from "./migrate";
import { openTrackedPool } from "./postgres-pool";
import * as schema from "./schema";
import { type PostgresTarget, parsePostgresUrl } from "./url";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * The only way the rest of the code reaches the database. `Db` handed to the work is the same object for
 * the life of the process, so statements can be prepared once against it.
 */
export interface Database {
  kind: DatabaseConfig["kind"];
  /** Read work, admitted by the guard, under the deadline; retried once on a lost connection. */
  read<T>(work: (db: Db) => Promise<T>): Promise<T>;
  /** Write work (may use db.transaction), admitted, under the deadline; never retried. */
  write<T>(work: (db: Db) => Promise<T>): Promise<T>;
  /** Admitted round trip to the server; throws when it is unreachable (startup, readiness). */
  ping(): Promise<void>;
  /** Applies pending migrations (outside the guard: it may wait for another replica's lock); returns how many ran. */
  migrate(): Promise<number>;
  close(): Promise<void>;
}

// `ping` goes to the driver itself: drizzle would wrap its error as "Failed query: select 1".
function guarded(
  kind: DatabaseConfig["kind"],
  db: Db,
  guard: DbGuard,
  ping: () => Promise<unknown>,
  close: () => Promise<void>,
): Database {
  return {
    kind,
    read: (work) => guard.read(() => work(db)),
    write: (work) => guard.write(() => work(db)),
    ping: () => guard.read(async () => void (await ping())),
    migrate: () => migrate(db),
    close,
  };
}

/**
 * The driver's options for DATABASE_URL as libpq reads it (src/db/url.ts): nothing in the URL is dropped,
 * and nothing reaches the server as a setting unless libpq would send it too.
 */
export function postgresOptions(
  config: Extract<DatabaseConfig, { kind: "postgres" }>,
  limits: DatabaseLimits = DEFAULT_DATABASE_LIMITS,
) {
  const parsed = parsePostgresUrl(config.url);
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  const target = parsed.target;
  return {
    host: target.host,
    port: target.port,
    ...(target.socketDir ? { path: `${target.socketDir}/.s.PGSQL.${target.port}` } : {}),
    database: target.database,
    ...(target.user ? { username: target.user } : {}),
    pass: target.password,
    ssl: tlsOptions(target),
    channel_binding: target.channelBinding,
    max: config.poolMax,
    prepare: config.prepare,
    connect_timeout: limits.connectTimeoutMs / 1000,
    // postgres.js waits 3^n/100 s (up to 20 s) before reconnecting after n failed attempts, so after a
    // long outage the service would stay down for seconds once the database is back. Cap it at 1 s.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2),
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    // No statement_timeout here: PgBouncer refuses startup parameters it does not know ("unsupported
    // startup parameter"). Runaway statements are cancelled by the guard's deadline instead.
    connection: {
      application_name: "tasks-api",
      ...target.startup,
    },
  };
}

// sslmode in postgres.js terms. Without roots nothing is verified (require, prefer, allow); with them the
// chain is (libpq does so even for require), and verify-full also checks the host name.
function tlsOptions(target: PostgresTarget) {
  if (target.sslmode === "disable") return false as const;
  const mode = target.sslmode as "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
  if (target.verify === "none") return mode as "allow" | "prefer" | "require";
  return {
    sslmode: mode,
    ca: target.ca,
    rejectUnauthorized: true,
    checkServerIdentity:
      target.verify === "full"
        ? (_: string, cert: PeerCertificate) => checkServerIdentity(target.host, cert)
        : () => undefined,
  };
}

export async function openDatabase(
  config: DatabaseConfig,
  limits: DatabaseLimits = DEFAULT_DATABASE_LIMITS,
): Promise<Database> {
  if (config.kind === "postgres") {
    const pool = openTrackedPool(postgresOptions(config, limits), limits);
    // postgres.js pipelines queries on a connection; admitting only one per connection cost a third of
    // the throughput (measured: GET 23.4k -> 16.7k req/s), so DB_PIPELINE queries per connection get in.
    const guard = createGuard({
      permits: config.poolMax * limits.pipeline,
      queueTimeoutMs: limits.queueTimeoutMs,
      deadline: pool.deadline,
    });
    const db = drizzlePostgres(pool.facade, { schema }) as unknown as Db;
    return guarded("postgres", db, guard, pool.ping, pool.close);
  }
  const guard = createGuard({ permits: config.poolMax, queueTimeoutMs: limits.queueTimeoutMs });
  // Loaded only when used, so a production build never touches PGlite's WebAssembly files.
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle: drizzlePglite } = await import("drizzle-orm/pglite");
  if (config.dataDir) await Bun.write(`${config.dataDir}/.keep`, "");
  const client = config.dataDir ? new PGlite(config.dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return guarded(
    "pglite",
    db,
    guard,
    () => client.query("select 1"),
    () => client.close(),
  );
}
