// patches/postgres@3.4.9.patch also repairs how postgres.js reconnects after its connections are killed.
// Unpatched, under repeated pg_terminate_backend: the first query on a reconnected connection could fail
// with the old backend's 57P01 (so a read retried once still failed), and a connection killed while a
// write was buffered never flushed again: every later connect on it hung until CONNECT_TIMEOUT; and after
// a query had failed on a killed connection, end() waited for that settled query until its own timeout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createFreshDatabase } from "./setup";
import { missing, POSTGRES } from "./support/requires";

const ROUNDS = 60;
const POOL = 4;
// A connect that hangs fails with CONNECT_TIMEOUT after this long; a healthy reconnect, even on a loaded
// machine, takes a fraction of it (rounds of 500 ms and more were seen with the load average above 12).
const CONNECT_TIMEOUT_S = 5;

describe.skipIf(missing(!!process.env.TEST_DATABASE_URL, POSTGRES))(
  "postgres.js reconnecting after pg_terminate_backend",
  () => {
    let fresh: Awaited<ReturnType<typeof createFreshDatabase>>;
    beforeAll(async () => {
      fresh = await createFreshDatabase("tasks_reconnect");
    });
    afterAll(() => fresh?.drop());

    test(`${ROUNDS} rounds of killing the whole pool: every round serves again, with no stale error and no connect timeout`, async () => {
      const application = `reconnect-${crypto.randomUUID().slice(0, 8)}`;
      const sql = postgres(fresh.url, {
        max: POOL,
        connect_timeout: CONNECT_TIMEOUT_S,
        backoff: () => 0,
        onnotice: () => {},
        connection: { application_name: application },
      });
      const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
      try {
        const firstErrors: string[] = [];
        const slowRounds: number[] = [];
        let killed = 0;
        for (let round = 0; round < ROUNDS; round++) {
          // Every connection open and idle, then killed: the next queries are written to sockets whose
          // close has not been read yet.
          await Promise.all(Array.from({ length: POOL }, () => sql`select pg_sleep(0.005)`.catch(() => {})));
          const [row] = await admin<
            { n: number }[]
          >`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = ${application}`;
          killed += row!.n;
          const started = performance.now();
          const attempts: string[] = [];
          for (;;) {
            try {
              await sql`select 1`;
              break;
            } catch (error) {
              attempts.push((error as { code?: string }).code ?? String(error));
              if (attempts.length > 5) break;
              await Bun.sleep(25); // as the service does before retrying a read
            }
          }
          firstErrors.push(...attempts);
          // On a loaded machine the retry can meet another killed connection whose close was not read yet, so
          // a round may need more than one retry; but each killed connection fails at most one query, and a
          // reconnected one never reports its old backend's termination (57P01) again.
          const stale = attempts.slice(1).includes("57P01");
          if (stale || attempts.length > POOL || performance.now() - started > CONNECT_TIMEOUT_S * 1000 * 0.8)
            slowRounds.push(round);
        }
        console.log(
          `reconnect: ${ROUNDS} rounds, ${killed} connections killed; errors before serving again: ${JSON.stringify(countBy(firstErrors))}; rounds with a stale 57P01, more failures than connections, or most of the connect timeout: ${slowRounds.length}`,
        );
        // A killed connection's query fails once, as a lost connection; the next query is served.
        expect(
          firstErrors.filter((code) => !["CONNECTION_CLOSED", "ECONNRESET", "EPIPE", "57P01"].includes(code)),
        ).toEqual([]);
        expect(killed).toBeGreaterThanOrEqual(ROUNDS);
        expect(slowRounds).toEqual([]);
      } finally {
        await sql.end({ timeout: 1 });
        await admin.end({ timeout: 1 });
      }
    }, 60_000);

    test("after a query failed on killed connections, end() closes the pool at once instead of waiting out its timeout", async () => {
      const timings: number[] = [];
      for (let round = 0; round < 3; round++) {
        const application = `reconnect-end-${crypto.randomUUID().slice(0, 8)}`;
        const sql = postgres(fresh.url, {
          max: POOL,
          onnotice: () => {},
          connection: { application_name: application },
        });
        const admin = postgres(fresh.url, { max: 1, onnotice: () => {} });
        try {
          await Promise.all(Array.from({ length: POOL }, () => sql`select 1`));
          await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${application}`;
          await Promise.all(Array.from({ length: POOL }, () => sql`select 1`.catch(() => {})));
        } finally {
          await admin.end({ timeout: 1 });
        }
        const started = performance.now();
        await sql.end({ timeout: 5 });
        timings.push(Math.round(performance.now() - started));
      }
      console.log(`end() after killed connections: ${timings.join(", ")} ms`);
      expect(Math.max(...timings)).toBeLessThan(1000);
    }, 30_000);
  },
);

const countBy = (xs: string[]) => {
  const counts: Record<string, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};
