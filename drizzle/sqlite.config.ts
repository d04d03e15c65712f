import { defineConfig } from "drizzle-kit";
// `npm run db:generate` writes a new migration here after a change to the schema.
export default defineConfig({ dialect: "sqlite", schema: "./src/catalog/schema/sqlite.ts", out: "./drizzle/sqlite" });
