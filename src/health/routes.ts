import { Elysia, t } from "elysia";
import type { Database } from "../db/client";
import { elysiaConfig } from "../elysia-config";
import type { Lifecycle } from "../lifecycle";
import type { Logger } from "../logger";
import { cachedCheck, checkDatabase } from "./readiness";

/** Liveness and readiness (the app keeps /api/* at 503 while the process is starting: `admit` in src/app.ts). */
export function healthRoutes({
  database,
  lifecycle,
  logger,
}: {
  database: Database;
  lifecycle: Lifecycle;
  logger: Logger;
}) {
  const databaseState = cachedCheck(() => checkDatabase(database), logger);
  return new Elysia({ ...elysiaConfig, name: "health" })
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: t.Object({ status: t.Literal("ok") }) },
      detail: { summary: "Liveness: the process answers (no database call)", tags: ["health"] },
    })
    .get(
      "/health/ready",
      async ({ status }) => {
        if (lifecycle.phase === "starting")
          return status(503, { status: "unavailable" as const, database: "unreachable" as const });
        const state = await databaseState();
        if (lifecycle.phase === "draining") return status(503, { status: "draining" as const, database: state });
        if (state !== "ok") return status(503, { status: "unavailable" as const, database: state });
        return { status: "ok" as const, database: "ok" as const };
      },
      {
        response: {
          200: t.Object({ status: t.Literal("ok"), database: t.Literal("ok") }),
          503: t.Object({
            status: t.Union([t.Literal("unavailable"), t.Literal("draining")]),
            database: t.Union([
              t.Literal("ok"),
              t.Literal("unreachable"),
              t.Literal("read_only"),
              t.Literal("not_migrated"),
            ]),
          }),
        },
        detail: {
          summary: "Readiness: migrated database that accepts writes, and not shutting down",
          description:
            "Answered from a check at most 1 s old. 503 while starting, while draining after SIGTERM, and when the database is unreachable, read-only, or lacks the tasks table.",
          tags: ["health"],
        },
      },
    );
}
