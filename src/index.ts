// Entry point: `tasks-api [serve|migrate|token|healthcheck]`. Starts and stops things; app.ts builds.
import { type App, createApp } from "./app";
import { cachedVerifier } from "./auth/cache";
import { verifierFromConfig } from "./auth/from-config";
import { parseTtl, signDevToken } from "./auth/token";
import { MAX_BODY_BYTES } from "./body";
import { type Config, ConfigError, loadConfig } from "./config";
import { type Database, openDatabase } from "./db/client";
import { isDatabaseUnavailable } from "./db/sqlstate";
import { waitForDatabase } from "./db/startup";
import { probeReadiness } from "./health/probe";
import { createLifecycle } from "./lifecycle";
import { createLogger } from "./logger";

const SHUTDOWN_GRACE_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`tasks-api: ${message}\n`);
  process.exit(1);
}

function readConfig(command: string): Config {
  try {
    return loadConfig(process.env, { needsDatabase: command !== "token" });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.problems.join("; "));
    throw error;
  }
}

async function serve(config: Config) {
  const started = performance.now();
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const lifecycle = createLifecycle();
  let app: App | undefined;
  let database: Database | undefined;

  // Installed before anything can wait (the database, a migration lock): as PID 1 in a container a
  // signal without a handler is ignored, and the orchestrator would have to SIGKILL us.
  let stopping = false;
  async function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    const wasServing = lifecycle.phase === "serving";
    lifecycle.draining();
    logger.info("shutting down", {
      signal,
      ...(wasServing && config.shutdownDrainMs > 0 ? { drain_ms: config.shutdownDrainMs } : {}),
    });
    if (!wasServing) {
      // Nothing was accepted but 503s and probes; a pending connect or lock wait dies with the process
      // (PostgreSQL rolls back an unfinished migration and releases its lock).
      await Promise.race([Promise.all([app?.stop(true), database?.close()]), Bun.sleep(500)]).catch(() => {});
      process.exit(0);
    }
    const force = setTimeout(() => {
      logger.error("in-flight requests did not finish in time; exiting");
      process.exit(1);
    }, config.shutdownDrainMs + SHUTDOWN_GRACE_MS);
    // Readiness says 503 meanwhile, so load balancers stop sending before the listener closes.
    await Bun.sleep(config.shutdownDrainMs);
    await app?.stop(false); // stop accepting, let in-flight requests finish (each logs as it is answered)
    await database?.close();
    clearTimeout(force);
    logger.info("stopped");
    process.exit(0);
  }
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  // postgres.js on Bun can let a socket error of a connection the server killed escape its handlers.
  // That is a lost connection, already answered as 503 and reconnected on demand: log it, keep serving.
  // Anything else leaves the process in an unknown state: exit and let the supervisor restart it.
  const escaped = (kind: string) => (error: unknown) => {
    logger.error(kind, {
      error: (error as Error)?.message ?? String(error),
      code: (error as { code?: unknown } | undefined)?.code,
    });
    if (!isDatabaseUnavailable(error)) process.exit(1);
  };
  process.on("uncaughtException", escaped("uncaught exception"));
  process.on("unhandledRejection", escaped("unhandled rejection"));

  // postgres.js connects lazily, so this returns at once; only the embedded database loads here.
  database = await openDatabase(config.database, config.databaseLimits).catch((error) =>
    fail(`cannot open the database: ${error?.message ?? error}`),
  );
  const verifier = verifierFromConfig(config.auth, logger);
  void verifier.prefetch(); // warm the JWKS cache without delaying startup
  app = createApp({ config, database, verifier: cachedVerifier(verifier), logger, lifecycle });
  // Listen before the database answers: liveness (/health) is up at once, readiness and /api/* say 503.
  // Bun's own cap is a backstop for huge bodies; up to it, the app answers 413 with a JSON detail.
  // No reusePort: a second service started on a busy port by mistake must fail, not silently share it.
  // One process per container; scale by running more replicas.
  try {
    app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: 16 * MAX_BODY_BYTES, reusePort: false });
  } catch (error) {
    fail(`cannot listen on ${config.host}:${config.port} (HOST, PORT): ${(error as Error)?.message ?? error}`);
  }
  const url = `http://${config.host}:${app.server?.port}`;
  logger.info("listening", { url, database: database.kind });

  await waitForDatabase(database, { timeoutMs: config.databaseLimits.startupTimeoutMs, logger }).catch((error) =>
    fail(error?.message ?? String(error)),
  );
  if (config.migrateOnStart) {
    const applied = await database.migrate().catch((error) => fail(`migrations failed: ${error?.message ?? error}`));
    logger.info("migrations applied", { applied });
  }
  if (stopping) return;
  if (config.auth.secretGenerated && config.auth.secret) {
    const token = await signDevToken(config.auth.secret, "dev-user", { ttlSeconds: 24 * 3600 });
    logger.warn(
      "BETTER_AUTH_SECRET is not set: using a throwaway secret for this run only (development). Tokens die with the process.",
      { dev_token_sub: "dev-user" },
    );
    process.stdout.write(`\n  Development token (sub=dev-user, valid 24h):\n  ${token}\n\n`);
  }

  lifecycle.serving();
  logger.info("ready", { url, startup_ms: Math.round(performance.now() - started) });
}

async function migrateCommand(config: Config) {
  const database = await openDatabase(config.database).catch((error) =>
    fail(`cannot open the database: ${error?.message ?? error}`),
  );
  const applied = await database.migrate().catch((error) => fail(`migrations failed: ${error?.message ?? error}`));
  await database.close();
  process.stdout.write(`migrations: ${applied} applied\n`);
}

async function tokenCommand(config: Config, args: string[]) {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sub = flag("sub");
  const ttl = parseTtl(flag("ttl") ?? "1h");
  if (!sub) fail("usage: bun run token --sub <user id> [--ttl 1h]");
  if (ttl === undefined) fail("--ttl must look like 90s, 15m, 1h or 7d");
  if (!config.auth.secret || config.auth.secretGenerated)
    fail("BETTER_AUTH_SECRET is not set, so no token could be verified by the service; set it (e.g. in .env) first");
  process.stdout.write(
    (await signDevToken(config.auth.secret, sub, {
      ttlSeconds: ttl,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    })) + "\n",
  );
}

const [command = "serve", ...args] = process.argv.slice(2);
const config = readConfig(command);
switch (command) {
  case "serve":
    await serve(config);
    break;
  case "migrate":
    await migrateCommand(config);
    break;
  case "token":
    await tokenCommand(config, args);
    break;
  case "healthcheck":
    process.exit((await probeReadiness(config.port)) ? 0 : 1);
    break;
  default:
    fail(`unknown command "${command}" (expected serve, migrate, token or healthcheck)`);
}
