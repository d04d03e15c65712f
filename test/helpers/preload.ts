// Loaded before every test file (bunfig.toml). `bun test` runs no process exit
// handlers, so servers started by the harness are stopped here, after the last file.
import { afterAll } from "bun:test";
import { stopPostgres } from "./postgres.ts";
import { stopMoto } from "./s3.ts";

afterAll(() => { stopPostgres(); stopMoto(); });
