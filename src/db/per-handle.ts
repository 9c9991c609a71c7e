import type { Db } from "./client";

const caches = new WeakMap<Db, Map<string, unknown>>();

/**
 * What `build` returns, built once per database handle and `key` (the handle lives as long as the
 * process, or as long as a test's app). Prepared statements are kept here: building one with drizzle
 * costs more CPU than PostgreSQL spends running it, and a statement prepared once is parsed and
 * planned by the server once per connection. A key names one statement shape: keep it unique per file.
 */
export function perHandle<T>(db: Db, key: string, build: () => T): T {
  let forDb = caches.get(db);
  if (!forDb) {
    forDb = new Map();
    caches.set(db, forDb);
  }
  let value = forDb.get(key) as T | undefined;
  if (value === undefined) {
    value = build();
    forDb.set(key, value);
  }
  return value;
}
