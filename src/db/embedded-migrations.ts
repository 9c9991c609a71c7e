import { readMigrationFiles } from "drizzle-orm/migrator";

// Imported `with { type: "macro" }`: runs when Bun transpiles or bundles the importer, so the SQL of
// ./drizzle is inlined into the code and travels inside the compiled binary.
export function embeddedMigrations() {
  return readMigrationFiles({ migrationsFolder: `${import.meta.dir}/../../drizzle` });
}
