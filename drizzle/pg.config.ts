import { defineConfig } from "drizzle-kit";
// `npm run db:generate` writes a new migration here after a change to the schema.
export default defineConfig({ dialect: "postgresql", schema: "./src/catalog/schema/pg.ts", out: "./drizzle/pg" });
