// Who a task belongs to and who asked for it: `requested_by` records the user (or
// the API token, with its user) that filed a task; only an admin may file one for
// another owner; nobody may file one owned by "system", the scheduler's owner.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import { call, expectInvalid, insertArchive, makeDefinitions, makeJob, type Definitions } from "./fixtures.ts";

describe("task owner and requested_by", () => {
  let api: TestApi;
  let d: Definitions;
  let job: string;
  beforeAll(async () => {
    api = await testApi("sqlite");
    d = await makeDefinitions(api);
    job = await makeJob(api, d, "owned");
  });
  afterAll(() => api.cleanup());

  const task = async (uuid: string) => (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
  const count = async () => (await call(api, "GET", "/v1/tasks", 200)).json.length;

  test("an operator's run is theirs, and says they asked", async () => {
    const t = await task((await call(api, "POST", `/v1/job/${job}/run`, 200, { as: "operator" })).json.task_uuid);
    expect([t.owner, t.requested_by]).toEqual(["operator", "operator"]);
  });

  test("an admin may file a task for another owner; requested_by still names the admin", async () => {
    const t = await task((await call(api, "POST", `/v1/job/${job}/run`, 200, { body: { owner: "jhunt" } })).json.task_uuid);
    expect([t.owner, t.requested_by]).toEqual(["jhunt", "admin"]);
  });

  test("an operator naming another owner is refused (403), and nothing is filed", async () => {
    const before = await count();
    const r = await call(api, "POST", `/v1/job/${job}/run`, 403, { as: "operator", body: { owner: "jhunt" } });
    expect(r.json.error).toContain("only an admin may file a task owned by someone else");
    const a = await insertArchive(api, { targetUuid: d.target, storeUuid: d.store });
    await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 403, { as: "operator", body: { owner: "admin" } });
    // Naming themselves is no other owner.
    await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { as: "operator", body: { owner: "operator" } });
    expect(await count()).toBe(before + 1);
  });

  test("nobody, not even an admin, files a task owned by system (400 naming owner)", async () => {
    const before = await count();
    await expectInvalid(api, "POST", `/v1/job/${job}/run`, { owner: "system" }, "owner", "reserved for the tasks the scheduler files");
    await expectInvalid(api, "POST", `/v1/job/${job}/run`, { owner: "System" }, "owner", "reserved");
    const a = await insertArchive(api, { targetUuid: d.target, storeUuid: d.store });
    await expectInvalid(api, "POST", `/v1/archive/${a.uuid}/restore`, { owner: " system " }, "owner", "reserved");
    expect(await count()).toBe(before);
    // Nor can a user take the name.
    await expectInvalid(api, "POST", "/v1/users", { name: "system", password: "long enough pw", role: "operator" }, "name", "reserved");
  });

  test("a task filed with an API token says which token, and whose", async () => {
    const token = (await call(api, "POST", "/v1/auth/tokens", 200, { as: "operator", body: { name: "nightly ci" } })).json.token;
    const a = await insertArchive(api, { targetUuid: d.target, storeUuid: d.store });
    const t = await task((await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { as: { token } })).json.task_uuid);
    expect([t.owner, t.requested_by]).toEqual(["operator", "token:operator/nightly ci"]);
  });
});
