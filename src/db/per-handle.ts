import type { Db } from "./client";

/**
 * `build(db)`, built once per database handle and kept as long as the handle (the process, or a test's
 * app). Prepared statements live in what it builds: building one with drizzle costs more CPU than
 * PostgreSQL spends running it.
 */
export function perHandle<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let value = built.get(db);
    if (value === undefined) {
      value = build(db);
      built.set(db, value);
    }
    return value;
  };
}
