import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { Logger } from "../logger";

/** What the database says about serving: "ok", or why a replica must not get traffic. */
export type DatabaseState = "ok" | "unreachable" | "read_only" | "not_migrated";

/** Probes answer from one check at most this old, so a flood of probes costs one round trip a second. */
export const READINESS_MAX_AGE_MS = 1000;
// A probe never waits longer than this for a check in progress (the check itself goes on).
const PROBE_WAIT_MS = 2000;

/** One round trip: reachable, accepting writes (not a standby or a read-only database), migrated. */
export async function checkDatabase(database: Database): Promise<DatabaseState> {
  try {
    const result = await database.read((db) =>
      db.execute(
        sql`select current_setting('transaction_read_only') = 'on' as read_only, to_regclass('tasks') is not null as migrated`,
      ),
    );
    // postgres.js hands back the rows, PGlite an object holding them.
    const [row] = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      read_only: boolean;
      migrated: boolean;
    }[];
    return row?.read_only ? "read_only" : row?.migrated ? "ok" : "not_migrated";
  } catch {
    return "unreachable";
  }
}

/**
 * Wraps `check` so that callers share one result for `maxAgeMs` (measured from the start of the check)
 * and never run two checks at once. Changes are logged once, not once per probe.
 */
export function cachedCheck(
  check: () => Promise<DatabaseState>,
  logger: Logger,
  maxAgeMs = READINESS_MAX_AGE_MS,
): () => Promise<DatabaseState> {
  let last: { startedAt: number; state: DatabaseState } | undefined;
  let running: Promise<DatabaseState> | undefined;
  const run = async () => {
    const startedAt = performance.now();
    const state = await check();
    if (state !== (last?.state ?? "ok")) {
      (state === "ok" ? logger.info : logger.warn)("readiness changed", { database: state, was: last?.state ?? "ok" });
    }
    last = { startedAt, state };
    running = undefined;
    return state;
  };
  return () => {
    if (last && performance.now() - last.startedAt < maxAgeMs) return Promise.resolve(last.state);
    running ??= run();
    return Promise.race([running, Bun.sleep(PROBE_WAIT_MS).then(() => "unreachable" as const)]);
  };
}
