import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config";
import { postgresOptions } from "../src/db/client";

const SECRET = "s".repeat(32);
const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe("configuration", () => {
  test("defaults: port 8000 on 0.0.0.0, info logs, pool of 10, embedded database, migrations on start", () => {
    const config = loadConfig({ BETTER_AUTH_SECRET: SECRET });
    expect(config).toMatchObject({
      port: 8000,
      host: "0.0.0.0",
      logLevel: "info",
      migrateOnStart: true,
      corsOrigins: [],
    });
    expect(config.database).toEqual({ kind: "pglite", dataDir: ".data/pglite", poolMax: 10 });
    expect(config.databaseLimits).toEqual({
      connectTimeoutMs: 1000,
      statementTimeoutMs: 5000,
      queueTimeoutMs: 2000,
      startupTimeoutMs: 30_000,
      pipeline: 10,
    });
    expect(config.fairShare).toEqual({
      rateLimitPerMinute: 600,
      rateLimitBurst: 100,
      rateLimitTarpitMs: 1000,
      userConcurrency: 4,
      userQueueTimeoutMs: 2000,
      maxTasksPerUser: 10_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test.each([
    ["PORT", "eighty"],
    ["PORT", "70000"],
    ["DB_POOL_MAX", "0"],
    ["DB_POOL_MAX", "1.5"],
    ["LOG_LEVEL", "verbose"],
    ["MIGRATE_ON_START", "maybe"],
    ["DATABASE_URL", "mysql://u:p@h/db"],
    ["DATABASE_URL", "not a url"],
    ["BETTER_AUTH_URL", "ftp://auth"],
    ["JWKS_URL", "nope"],
    ["CORS_ORIGINS", "app.example.com"],
    ["LOG_FORMAT", "xml"],
    ["DB_PREPARE", "sometimes"],
    ["DB_CONNECT_TIMEOUT_MS", "soon"],
    ["DB_CONNECT_TIMEOUT_MS", "0"],
    ["DB_STATEMENT_TIMEOUT_MS", "-1"],
    ["DB_STATEMENT_TIMEOUT_MS", "0"],
    ["DB_PREPARE", "auto"],
    ["DB_QUEUE_TIMEOUT_MS", "1.5"],
    ["DB_STARTUP_TIMEOUT_MS", "forever"],
    ["DB_PIPELINE", "101"],
    ["RATE_LIMIT_PER_MINUTE", "-1"],
    ["RATE_LIMIT_BURST", "lots"],
    ["RATE_LIMIT_TARPIT_MS", "1001"],
    ["USER_CONCURRENCY", "1.5"],
    ["USER_QUEUE_TIMEOUT_MS", "soon"],
    ["MAX_TASKS_PER_USER", "ten"],
  ])("a bad %s (%s) is reported by name", (name, value) => {
    const problems = problemsOf({ BETTER_AUTH_SECRET: SECRET, [name]: value });
    expect(problems.length).toBe(1);
    expect(problems[0]).toStartWith(name);
  });

  test("every bad variable is reported at once", () => {
    expect(problemsOf({ PORT: "x", DB_POOL_MAX: "y", LOG_LEVEL: "z" }).length).toBe(3);
  });

  test("a malformed DATABASE_URL is reported without its password", () => {
    const problems = problemsOf({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: "mysql://admin:hunter2-secret@db/x" });
    expect(problems.join()).not.toContain("hunter2");
  });

  test("in production, DATABASE_URL and a secret or JWKS source are required", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    expect(problems.some((p) => p.startsWith("DATABASE_URL"))).toBe(true);
    expect(problems.some((p) => p.startsWith("BETTER_AUTH_SECRET"))).toBe(true);
  });

  test("in production, a secret shorter than 32 characters or a placeholder is refused", () => {
    const base = { NODE_ENV: "production", DATABASE_URL: "postgres://u@h/db" };
    expect(problemsOf({ ...base, BETTER_AUTH_SECRET: "short" })[0]).toContain("at least 32");
    expect(problemsOf({ ...base, BETTER_AUTH_SECRET: "x".repeat(40) })[0]).toContain("placeholder");
    expect(problemsOf({ ...base, BETTER_AUTH_SECRET: SECRET + "-real" })).toEqual([]);
    expect(problemsOf({ ...base, BETTER_AUTH_URL: "https://auth.example.com" })).toEqual([]);
  });

  test("in development with no secret, a throwaway one is generated and flagged", () => {
    const config = loadConfig({});
    expect(config.auth.secretGenerated).toBe(true);
    expect(config.auth.secret!.length).toBeGreaterThanOrEqual(32);
  });

  test("a Neon URL as the console gives it is accepted; prepared statements are on for -pooler hosts too, and only DB_PREPARE=false turns them off", () => {
    const direct = loadConfig({
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL:
        "postgresql://neondb_owner:pw@ep-cool-darkness-123456.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
    });
    expect(direct.database).toMatchObject({ kind: "postgres", prepare: true });
    const pooled = loadConfig({
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL:
        "postgresql://neondb_owner:pw@ep-cool-darkness-123456-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
    });
    expect(pooled.database).toMatchObject({ kind: "postgres", prepare: true });
    const forced = loadConfig({
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL: "postgres://u@pgbouncer.internal/db",
      DB_PREPARE: "false",
    });
    expect(forced.database).toMatchObject({ prepare: false });
  });

  test("libpq-only URL parameters become driver options, not server settings", () => {
    const options = postgresOptions({
      kind: "postgres",
      url: "postgresql://u:p@ep-x-pooler.neon.tech/neondb?sslmode=require&channel_binding=require&application_name=x",
      poolMax: 3,
      prepare: false,
    });
    expect(options).toMatchObject({
      host: "ep-x-pooler.neon.tech",
      database: "neondb",
      ssl: "require",
      channel_binding: "require",
      prepare: false,
      max: 3,
    });
    expect(options.connection).toEqual({ application_name: "x" });
  });
});

describe("startup errors in a real process", () => {
  const run = (env: Record<string, string>) =>
    Bun.spawnSync(["bun", "src/index.ts"], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", ...env },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 20_000,
    });

  // Every other variable is valid and DATABASE_URL carries a password, so each case shows that one
  // bad value stops the process before anything connects, and that the password is never printed.
  const valid = { BETTER_AUTH_SECRET: SECRET, DATABASE_URL: "postgres://tasks:hunter2-secret@127.0.0.1:1/tasks" };
  test.each([
    ["DATABASE_URL", { DATABASE_URL: "mysql://root:hunter2-secret@db/x", BETTER_AUTH_SECRET: SECRET }],
    ["DATABASE_URL", { ...valid, DATABASE_URL: "postgres://tasks:hunter2-secret@db/x?sslmode=sometimes" }],
    [
      "sslrootcert",
      {
        ...valid,
        DATABASE_URL: "postgres://tasks:hunter2-secret@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
      },
    ],
    ["search_path", { ...valid, DATABASE_URL: "postgres://tasks:hunter2-secret@db/x?search_path=tasks" }],
    ["DB_POOL_MAX", { DB_POOL_MAX: "lots", BETTER_AUTH_SECRET: SECRET }],
    [
      "BETTER_AUTH_SECRET",
      {
        NODE_ENV: "production",
        DATABASE_URL: "postgres://u:hunter2-secret@127.0.0.1/x",
        BETTER_AUTH_SECRET: "too-short",
      },
    ],
    ["BETTER_AUTH_SECRET", { NODE_ENV: "production", DATABASE_URL: "postgres://u:hunter2-secret@127.0.0.1/x" }],
    ["DATABASE_URL", { NODE_ENV: "production", BETTER_AUTH_SECRET: SECRET + "-real" }],
    ["PORT", { ...valid, PORT: "eighty" }],
    ["LOG_LEVEL", { ...valid, LOG_LEVEL: "verbose" }],
    ["LOG_FORMAT", { ...valid, LOG_FORMAT: "xml" }],
    ["CORS_ORIGINS", { ...valid, CORS_ORIGINS: "app.example.com" }],
    ["BETTER_AUTH_URL", { ...valid, BETTER_AUTH_URL: "ftp://auth" }],
    ["JWKS_URL", { ...valid, JWKS_URL: "nope" }],
    ["MIGRATE_ON_START", { ...valid, MIGRATE_ON_START: "maybe" }],
    ["DB_PREPARE", { ...valid, DB_PREPARE: "sometimes" }],
    ["DB_CONNECT_TIMEOUT_MS", { ...valid, DB_CONNECT_TIMEOUT_MS: "soon" }],
    ["DB_STATEMENT_TIMEOUT_MS", { ...valid, DB_STATEMENT_TIMEOUT_MS: "-1" }],
    ["DB_QUEUE_TIMEOUT_MS", { ...valid, DB_QUEUE_TIMEOUT_MS: "1.5" }],
    ["DB_STARTUP_TIMEOUT_MS", { ...valid, DB_STARTUP_TIMEOUT_MS: "forever" }],
    ["DB_PIPELINE", { ...valid, DB_PIPELINE: "0" }],
  ])(
    "a bad %s exits 1 with one line naming it, no stack, no password",
    (name, env) => {
      const result = run(env as Record<string, string>);
      expect(result.exitCode).toBe(1);
      const stderr = result.stderr.toString().trim();
      expect(stderr.split("\n").length).toBe(1);
      expect(stderr).toContain(name);
      expect(stderr + result.stdout.toString()).not.toContain("hunter2");
      expect(stderr).not.toMatch(/\bat .*\.ts/);
    },
    30_000,
  );

  test("a HOST it cannot listen on exits 1 with one line naming HOST, no stack", () => {
    // A PostgreSQL URL (connected lazily, after listen) rather than the embedded database, whose
    // first start takes many seconds on a loaded machine and ran into the spawn timeout.
    const result = run({
      BETTER_AUTH_SECRET: SECRET,
      HOST: "999.1.1.1",
      PORT: "0",
      DATABASE_URL: "postgres://tasks@127.0.0.1:1/tasks",
    });
    expect(result.exitCode).toBe(1);
    const stderr = result.stderr.toString().trim();
    expect(stderr.split("\n").length).toBe(1);
    expect(stderr).toContain("HOST");
    expect(stderr).not.toMatch(/\bat .*\.ts/);
  }, 30_000);
});
