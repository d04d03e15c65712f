// Loaded before every test file (bunfig.toml). `bun test` runs no process exit
// handlers, so servers started by the harness are stopped here, after the last file.
import { afterAll } from "bun:test";
import { stopAzurite } from "./azurite.ts";
import { stopMariadb } from "./mariadb.ts";
import { stopPostgres } from "./postgres.ts";
import { stopRabbit } from "./rabbitmq.ts";
import { stopRedis } from "./redis.ts";
import { stopMoto } from "./s3.ts";

afterAll(async () => {
  stopPostgres();
  stopMariadb();
  stopAzurite();
  stopMoto();
  await stopRabbit();
  await stopRedis();
});
