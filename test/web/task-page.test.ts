// The web task page says who asked for a task (its requested_by) beside its owner.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signedIn, type WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";

let t: TestApi;
let b: WebClient;
beforeAll(async () => ({ t, b } = await signedIn("operator")));
afterAll(() => t.cleanup());

test("the task page shows the owner and who asked", async () => {
  const uuid = crypto.randomUUID();
  await t.catalog.tasks.create({
    uuid, op: "backup", owner: "jhunt", requestedBy: "token:admin/nightly", jobUuid: null, archiveUuid: null, targetUuid: null, storeUuid: null,
    requestedAt: Math.floor(Date.now() / 1000),
  });
  const page = await b.get(`/tasks/${uuid}`);
  expect(page.status).toBe(200);
  expect(page.html).toContain("Owned by jhunt · requested by token:admin/nightly");
});
