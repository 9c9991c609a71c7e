import type { SQL } from "drizzle-orm";
import type { Db } from "./client";

/** A prepared statement answering the driver's rows as they are: no drizzle mapping, no Date per timestamp. */
export type RawStatement<Row> = (values: Record<string, unknown>) => Promise<Row[]>;

/**
 * A statement with placeholders, prepared under `name`, whose rows come back as the driver gives them
 * (column names as keys; timestamps as PostgreSQL's text, bigints as strings with postgres.js): drizzle's
 * row mapping cost ~12% of the CPU of a 20-task list, a Date per timestamp included, for objects that
 * the answer turns back into text. db.execute() would rebuild the text on every call and send it
 * unnamed, so PostgreSQL would parse and plan it each time; drizzle has no public way to prepare raw
 * SQL, so this goes through the same door db.execute() does (its session).
 */
export function prepareRaw<Row>(db: Db, name: string, query: SQL): RawStatement<Row> {
  const { session, dialect } = db as unknown as DrizzleInternals;
  const prepared = session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false);
  // postgres.js answers an array of rows, PGlite an object holding them.
  return async (values) => {
    const result = await prepared.execute(values);
    return Array.isArray(result) ? result : (result as { rows: Row[] }).rows;
  };
}
interface DrizzleInternals {
  dialect: { sqlToQuery(query: SQL): unknown };
  session: {
    prepareQuery(
      query: unknown,
      fields: undefined,
      name: string,
      arrayMode: boolean,
    ): { execute(values: Record<string, unknown>): Promise<unknown> };
  };
}
