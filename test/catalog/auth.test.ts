// The catalog's side of auth providers and sessions, on both dialects: provider
// rows, users' provider column, tokens' role/expiry/re-check columns, and the
// admins' view of every token with its owner.
import { describe, expect, test } from "bun:test";
import { isUniqueViolation } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { rejection, T0, tokenRow, useCatalog, userRow } from "./fixtures.ts";

for (const dialect of dialects) {
  describe(`auth on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;

    test("auth providers: create, byName, list in the order added, update, unique names, delete", async () => {
      const corp = { uuid: crypto.randomUUID(), name: "corp", type: "ldap" as const, config: '{"url":"ldap://x"}', createdAt: T0 };
      const lab = { uuid: crypto.randomUUID(), name: "lab", type: "none" as const, config: "{}", createdAt: T0 + 1 };
      await c().authProviders.create(lab);
      await c().authProviders.create(corp);
      expect((await c().authProviders.list()).map((p) => p.name)).toEqual(["corp", "lab"]);
      expect(await c().authProviders.byName("corp")).toEqual(corp);
      expect(await c().authProviders.update(corp.uuid, '{"url":"ldaps://y"}')).toBe(true);
      expect((await c().authProviders.byName("corp"))!.config).toBe('{"url":"ldaps://y"}');
      expect(isUniqueViolation(await rejection(c().authProviders.create({ ...corp, uuid: crypto.randomUUID() })))).toBe(true);
      expect(await c().authProviders.delete(lab.uuid)).toBe(true);
      expect(await c().authProviders.delete(lab.uuid)).toBe(false);
    });

    test("users default to the local provider; a provider's user keeps its name", async () => {
      const { provider: _, ...local } = userRow({ name: "loc" });
      await c().users.create(local);
      expect((await c().users.byName("loc"))!.provider).toBe("local");
      await c().users.create(userRow({ name: "dir", provider: "corp" }));
      expect((await c().users.byName("dir"))!.provider).toBe("corp");
    });

    test("tokens: role, expiry and checked_at kept; listAll with owners; checked, deleteAny, deleteForUser", async () => {
      const ann = userRow({ name: "ann" });
      const ben = userRow({ name: "ben", provider: "corp" });
      await c().users.create(ann);
      await c().users.create(ben);
      const a = tokenRow({ userUuid: ann.uuid, name: "a", role: "viewer", expiresAt: T0 + 3600 });
      const b1 = tokenRow({ userUuid: ben.uuid, name: "b1" });
      const b2 = tokenRow({ userUuid: ben.uuid, name: "b2", createdAt: T0 + 5 });
      for (const t of [a, b1, b2]) await c().tokens.create(t);
      const all = await c().tokens.listAll();
      expect(all.filter((t) => ["ann", "ben"].includes(t.userName)).map((t) => [t.userName, t.provider, t.name, t.role, t.expiresAt, t.checkedAt]))
        .toEqual([["ann", "local", "a", "viewer", T0 + 3600, T0], ["ben", "corp", "b1", null, null, T0], ["ben", "corp", "b2", null, null, T0 + 5]]);
      expect((await c().tokens.listAll(ann.uuid)).map((t) => t.name)).toEqual(["a"]);
      await c().tokens.checked(b1.uuid, T0 + 900);
      expect((await c().tokens.userByHash(b1.tokenHash))!.token.checkedAt).toBe(T0 + 900);
      expect(await c().tokens.deleteAny(a.uuid)).toBe(true);
      expect(await c().tokens.deleteAny(a.uuid)).toBe(false);
      expect(await c().tokens.deleteForUser(ben.uuid)).toBe(2);
      expect(await c().tokens.listAll(ben.uuid)).toEqual([]);
    });
  });
}
