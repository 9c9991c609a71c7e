import { is, Param, Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "./client";

/** A prepared statement answering the driver's rows as they are: no drizzle mapping, no Date per timestamp. */
export type RawStatement<Row> = (values: Record<string, unknown>) => Promise<Row[]>;

/**
 * A statement with placeholders whose rows come back as the driver gives them (column names as keys;
 * timestamps as PostgreSQL's text, bigints as strings with postgres.js): drizzle's row mapping cost
 * ~12% of the CPU of a 20-task list, a Date per timestamp included, for objects that the answer turns
 * back into text. The text is rendered once, here.
 *
 * With postgres.js the statement goes to the driver itself, which prepares it on each connection (by
 * its text and parameter types, unless DB_PREPARE=false): drizzle's execute() adds two async layers,
 * tracing spans and an error wrapper around the same call (measured: an update 122 -> 95 µs of CPU per
 * request without them). Errors are then the driver's own (src/db/sqlstate.ts reads both). PGlite goes
 * through drizzle's session, prepared under `name`.
 */
export function prepareRaw<Row>(db: Db, name: string, query: SQL): RawStatement<Row> {
  const { session, dialect, $client } = db as unknown as DrizzleInternals;
  const compiled = dialect.sqlToQuery(query);
  if (typeof $client?.unsafe === "function") {
    const client = $client as Required<NonNullable<DrizzleInternals["$client"]>>;
    const text = compiled.sql;
    const bind = binder(compiled.params);
    // unsafe() sends unnamed statements unless told; the client's own `prepare` (DB_PREPARE) still decides.
    return (values) => client.unsafe(text, bind(values), PREPARED) as Promise<Row[]>;
  }
  const prepared = session.prepareQuery(compiled, undefined, name, false);
  // PGlite answers an object holding the rows.
  return async (values) => {
    const result = await prepared.execute(values);
    return Array.isArray(result) ? result : (result as { rows: Row[] }).rows;
  };
}

const PREPARED = { prepare: true };

/** drizzle's fillPlaceholders, with each parameter's kind found once instead of on every call. */
function binder(params: unknown[]): (values: Record<string, unknown>) => unknown[] {
  const fill = params.map((p): ((values: Record<string, unknown>) => unknown) => {
    const placeholder = is(p, Placeholder) ? p : is(p, Param) && is(p.value, Placeholder) ? p.value : undefined;
    if (!placeholder) return () => p;
    const { name } = placeholder;
    const encode = is(p, Param) ? (value: unknown) => p.encoder.mapToDriverValue(value) : (value: unknown) => value;
    return (values) => {
      if (!(name in values)) throw new Error(`No value for placeholder "${name}" was provided`);
      return encode(values[name]);
    };
  });
  return (values) => fill.map((f) => f(values));
}

interface DrizzleInternals {
  dialect: { sqlToQuery(query: SQL): { sql: string; params: unknown[] } };
  session: {
    prepareQuery(
      query: unknown,
      fields: undefined,
      name: string,
      arrayMode: boolean,
    ): { execute(values: Record<string, unknown>): Promise<unknown> };
  };
  /** The postgres.js client drizzle was given (the tracked pool's facade); PGlite has no unsafe(). */
  $client?: { unsafe?: (text: string, params: unknown[], options: { prepare: boolean }) => Promise<unknown> };
}
