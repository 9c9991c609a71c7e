import { test } from "bun:test";

const inCi = !!process.env.CI && !["0", "false"].includes(process.env.CI);

/**
 * For `describe.skipIf(...)` / `test.skipIf(...)`: true (skip) when `what` is missing. On a developer's
 * machine that is a skip; in CI (`CI` set) it also registers a failing test, so a suite that needs a
 * real PostgreSQL can never pass CI by being skipped.
 */
export function missing(available: boolean, what: string): boolean {
  if (!available && inCi) {
    test(`CI provides ${what}`, () => {
      throw new Error(`${what} is not available here, and in CI the tests that need it must run`);
    });
  }
  return !available;
}

export const POSTGRES = "a real PostgreSQL (TEST_DATABASE_URL)";
export const CLUSTER = "PostgreSQL server binaries for temporary clusters (initdb, pg_ctl)";
