import { defineConfig } from "drizzle-kit";

// drizzle-kit only needs the schema to generate SQL; `bun run db:migrate` uses the service's own
// migrator (src/db/migrate.ts), so no database URL is read here.
export default defineConfig({
  dialect: "postgresql",
  schema: ["./src/db/schema.ts", "./src/idempotency/schema.ts"],
  out: "./drizzle",
});
