// Loaded before every test file (bunfig.toml). `bun test` runs no process exit
// handlers, so servers started by the harness are stopped here, after the last file.
import { afterAll } from "bun:test";
import { stopMariadb } from "./mariadb.ts";
import { stopPostgres } from "./postgres.ts";

afterAll(() => {
  stopPostgres();
  stopMariadb();
});
