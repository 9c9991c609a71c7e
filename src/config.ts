// The only module that reads the environment. Everything else receives a Config.
import { parsePostgresUrl } from "./db/url";
export type LogLevel = "debug" | "info" | "warn" | "error";

export type DatabaseConfig =
  | { kind: "postgres"; url: string; poolMax: number; prepare: boolean }
  | { kind: "pglite"; dataDir: string | undefined; poolMax: number }; // dataDir undefined: in memory

/** How long database work may wait or run before the service gives up and answers 503. */
export interface DatabaseLimits {
  /** opening one connection (postgres.js connect_timeout) */
  connectTimeoutMs: number;
  /** how long admitted database work may run before it is cancelled on the server and answered 503 */
  statementTimeoutMs: number;
  /** how long a request waits for a free connection before a 503 */
  queueTimeoutMs: number;
  /** how long startup retries an unreachable database before exiting 1 */
  startupTimeoutMs: number;
  /** queries admitted per pooled connection (postgres.js pipelines them); 1 = one query per connection */
  pipeline: number;
}

export const DEFAULT_DATABASE_LIMITS: DatabaseLimits = Object.freeze({
  connectTimeoutMs: 1000,
  statementTimeoutMs: 5000,
  queueTimeoutMs: 2000,
  startupTimeoutMs: 30_000,
  pipeline: 10,
});

/** Fair share between users (see src/limits and the quota in the tasks repository); 0 turns a limit off. */
export interface FairShareConfig {
  rateLimitPerMinute: number;
  rateLimitBurst: number;
  /** How long a refusal of a user refused many times in a row is held before it is answered (src/limits/tarpit.ts). */
  rateLimitTarpitMs: number;
  userConcurrency: number;
  userQueueTimeoutMs: number;
  maxTasksPerUser: number;
}

export const DEFAULT_FAIR_SHARE: FairShareConfig = Object.freeze({
  rateLimitPerMinute: 600,
  rateLimitBurst: 100,
  rateLimitTarpitMs: 1000,
  userConcurrency: 4,
  userQueueTimeoutMs: 2000,
  maxTasksPerUser: 10_000,
});

/** The variable of each field of DatabaseLimits and FairShareConfig, and the bounds it must be within. */
const INTEGER_VARIABLES = {
  connectTimeoutMs: ["DB_CONNECT_TIMEOUT_MS", 100, 600_000],
  statementTimeoutMs: ["DB_STATEMENT_TIMEOUT_MS", 100, 3_600_000],
  queueTimeoutMs: ["DB_QUEUE_TIMEOUT_MS", 0, 600_000],
  startupTimeoutMs: ["DB_STARTUP_TIMEOUT_MS", 0, 3_600_000],
  pipeline: ["DB_PIPELINE", 1, 100],
  rateLimitPerMinute: ["RATE_LIMIT_PER_MINUTE", 0, 6_000_000],
  rateLimitBurst: ["RATE_LIMIT_BURST", 0, 1_000_000],
  // At most a second: Retry-After never says less, so a client that waits as told loses nothing.
  rateLimitTarpitMs: ["RATE_LIMIT_TARPIT_MS", 0, 1000],
  userConcurrency: ["USER_CONCURRENCY", 0, 10_000],
  userQueueTimeoutMs: ["USER_QUEUE_TIMEOUT_MS", 0, 600_000],
  maxTasksPerUser: ["MAX_TASKS_PER_USER", 0, 1_000_000_000],
} as const satisfies Record<keyof (DatabaseLimits & FairShareConfig), readonly [string, number, number]>;
type IntegerField = keyof typeof INTEGER_VARIABLES;

export interface AuthConfig {
  secret: string | undefined;
  /** true when no secret was configured and a throwaway one was generated (development only) */
  secretGenerated: boolean;
  betterAuthUrl: string | undefined;
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** Keys are refetched at least this often (JWKS_MAX_AGE_MS). */
  jwksMaxAgeMs?: number | undefined;
}

export interface Config {
  production: boolean;
  host: string;
  port: number;
  logLevel: LogLevel;
  logFormat: "json" | "pretty";
  corsOrigins: string[];
  migrateOnStart: boolean;
  /** After SIGTERM, how long readiness reports 503 (so load balancers stop sending) before the listener closes. */
  shutdownDrainMs: number;
  database: DatabaseConfig;
  databaseLimits: DatabaseLimits;
  fairShare: FairShareConfig;
  /** How long the answer to a write with an Idempotency-Key is kept for replays (at least 24 h). */
  idempotencyKeyTtlHours: number;
  auth: AuthConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];
// Values that people copy from examples; a production service must not run on them.
const PLACEHOLDER_SECRETS = /^(change[-_ ]?me|changeme|secret|your[-_].*|replace[-_].*|x+)$/i;

/**
 * Reads every variable, collects every problem, and throws one ConfigError listing them all.
 * `needsDatabase: false` is for commands that never connect (`token`): no DATABASE_URL is required.
 */
export function loadConfig(env: Env, { needsDatabase = true }: { needsDatabase?: boolean } = {}): Config {
  const problems: string[] = [];
  const production = env.NODE_ENV === "production";
  const get = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };

  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = get(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (!allowed.includes(raw as T)) problems.push(`${name} must be one of ${allowed.join(", ")}`);
    return allowed.includes(raw as T) ? (raw as T) : fallback;
  };

  const httpUrl = (name: string) => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
      problems.push(`${name} must be an http:// or https:// URL`);
      return undefined;
    }
    // Keys fetched over plain HTTP can be swapped by anyone on the path; loopback never leaves the host.
    const { protocol, hostname } = new URL(raw);
    if (production && protocol === "http:" && !/^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(hostname)) {
      problems.push(`${name} must be an https:// URL when NODE_ENV=production (http:// only on loopback)`);
      return undefined;
    }
    return raw.replace(/\/+$/, "");
  };

  const port = integer("PORT", 8000, 0, 65535);
  const poolMax = integer("DB_POOL_MAX", 10, 1, 1000);
  const idempotencyKeyTtlHours = integer("IDEMPOTENCY_KEY_TTL_HOURS", 24, 24, 8760);
  const logLevel = oneOf("LOG_LEVEL", LOG_LEVELS, "info");
  const logFormat = oneOf("LOG_FORMAT", ["json", "pretty"] as const, "json");
  // At most 8 s, so draining plus in-flight requests fit the 10 s a stop may take.
  const shutdownDrainMs = integer("SHUTDOWN_DRAIN_MS", 0, 0, 8000);
  const migrateOnStart = oneOf("MIGRATE_ON_START", ["true", "false", "1", "0"] as const, "true");
  const prepare = oneOf("DB_PREPARE", ["true", "false"] as const, "true") === "true";
  // The integer settings of each group, from INTEGER_VARIABLES; the default is the group's.
  const integers = <T extends { [K in keyof T & IntegerField]: number }>(defaults: T): Readonly<T> => {
    const values = { ...defaults };
    for (const field of Object.keys(defaults) as (keyof T & IntegerField)[]) {
      const [name, min, max] = INTEGER_VARIABLES[field];
      values[field] = integer(name, defaults[field], min, max) as T[keyof T & IntegerField];
    }
    return Object.freeze(values);
  };
  const databaseLimits: DatabaseLimits = integers(DEFAULT_DATABASE_LIMITS);
  const fairShare: FairShareConfig = integers(DEFAULT_FAIR_SHARE);

  const corsOrigins = (get("CORS_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin !== "*" && (!URL.canParse(origin) || new URL(origin).origin !== origin.replace(/\/$/, ""))) {
      problems.push(`CORS_ORIGINS must be a comma-separated list of origins like https://app.example.com`);
      break;
    }
  }

  const database = ((): DatabaseConfig => {
    const raw = get("DATABASE_URL");
    if (raw === undefined) {
      if (production && needsDatabase) problems.push("DATABASE_URL is required when NODE_ENV=production");
      return { kind: "pglite", dataDir: get("PGLITE_DIR") ?? ".data/pglite", poolMax };
    }
    // Never echo the value: it carries the password. src/db/url.ts reads it as libpq does.
    const parsed = parsePostgresUrl(raw);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      return { kind: "pglite", dataDir: undefined, poolMax };
    }
    // Prepared statements also through poolers: Neon's and PgBouncer 1.21+ with max_prepared_statements
    // keep them per client. DB_PREPARE=false is for older poolers; the host name is never guessed from.
    return { kind: "postgres", url: raw, poolMax, prepare };
  })();

  const auth = ((): AuthConfig => {
    let secret = get("BETTER_AUTH_SECRET");
    const betterAuthUrl = httpUrl("BETTER_AUTH_URL");
    const jwksUrl = httpUrl("JWKS_URL");
    if (secret !== undefined && production && secret.length < 32) {
      problems.push("BETTER_AUTH_SECRET must be at least 32 characters when NODE_ENV=production");
    }
    if (secret !== undefined && production && PLACEHOLDER_SECRETS.test(secret)) {
      problems.push("BETTER_AUTH_SECRET is a placeholder value; generate one with `openssl rand -base64 32`");
    }
    let secretGenerated = false;
    if (secret === undefined && betterAuthUrl === undefined && jwksUrl === undefined) {
      if (production)
        problems.push("BETTER_AUTH_SECRET (or BETTER_AUTH_URL / JWKS_URL) is required when NODE_ENV=production");
      secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
      secretGenerated = true;
    }
    return {
      secret,
      secretGenerated,
      betterAuthUrl,
      jwksUrl,
      issuer: get("JWT_ISSUER"),
      audience: get("JWT_AUDIENCE"),
      jwksMaxAgeMs: integer("JWKS_MAX_AGE_MS", 300_000, 1000, 86_400_000),
    };
  })();

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    production,
    host: get("HOST") ?? "0.0.0.0",
    port,
    logLevel,
    logFormat,
    corsOrigins,
    migrateOnStart: migrateOnStart === "true" || migrateOnStart === "1",
    shutdownDrainMs,
    database,
    databaseLimits,
    fairShare,
    idempotencyKeyTtlHours,
    auth,
  });
}
