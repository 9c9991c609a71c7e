import type { Logger } from "../logger";
import type { Database } from "./client";
import { codesOf, isConnectionRefused, isDatabaseUnavailable } from "./sqlstate";

/**
 * At startup the database may still be booting (compose, a restart, a cold Neon branch): ping it with
 * exponential backoff until it answers or `timeoutMs` has passed. Errors that waiting cannot fix
 * (a wrong password, a missing database) are thrown at once.
 */
export async function waitForDatabase(
  database: Database,
  { timeoutMs, logger }: { timeoutMs: number; logger: Logger },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 1, delay = 200; ; attempt++, delay = Math.min(delay * 2, 5000)) {
    try {
      await database.ping();
      if (attempt > 1) logger.info("database reachable", { attempt });
      return;
    } catch (error) {
      if (refusedForGood(error) || !isDatabaseUnavailable(error)) throw new Error(`DATABASE_URL: ${describe(error)}`);
      const left = deadline - performance.now();
      const reason = (error as Error)?.message ?? String(error);
      if (left <= 0)
        throw new Error(`database unreachable after ${timeoutMs} ms (DB_STARTUP_TIMEOUT_MS), last error: ${reason}`);
      logger.warn("database unreachable at startup; retrying", {
        attempt,
        retry_in_ms: Math.round(Math.min(delay, left)),
        error: reason,
      });
      await Bun.sleep(Math.min(delay, left));
    }
  }
}

// The server's own words (a wrong password names the user, never the password) and the code.
function describe(error: unknown): string {
  const message = ((error as Error)?.message ?? String(error)).replace(/^[A-Z_]+: /, "");
  const code = codesOf(error)[0];
  return code && !message.includes(code)
    ? `${message} (${/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code})`
    : message;
}

// A protocol violation is usually a connection cut halfway, worth waiting for; during authentication it
// is a refusal too (PgBouncer's "SASL authentication failed" for a wrong password).
const refusedForGood = (error: unknown) =>
  isConnectionRefused(error) ||
  (codesOf(error).includes("08P01") &&
    /SCRAM|SASL|channel binding|authentication/i.test((error as Error)?.message ?? ""));
