import { beforeAll, describe, expect, test } from "bun:test";
import { isUniqueViolation } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { rejection, T0, tokenRow, useCatalog, userRow } from "./fixtures.ts";

const names = (rows: { name: string }[]) => rows.map((r) => r.name);

for (const dialect of dialects) {
  describe(`users on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;

    test("an empty catalog has no users", async () => {
      expect(await c().users.count()).toBe(0);
      expect(await c().users.countAdmins()).toBe(0);
      expect(await c().users.list()).toEqual([]);
    });

    test("create, then get and byName return the row", async () => {
      const row = userRow({ name: "carol", role: "admin" });
      await c().users.create(row);
      expect(await c().users.get(row.uuid)).toEqual(row);
      expect(await c().users.byName("carol")).toEqual(row);
      expect(await c().users.get(crypto.randomUUID())).toBeUndefined();
      expect(await c().users.byName("nobody")).toBeUndefined();
    });

    test("list is ordered by name; count and countAdmins count", async () => {
      await c().users.create(userRow({ name: "bob", role: "operator" }));
      await c().users.create(userRow({ name: "alice", role: "admin" }));
      await c().users.create(userRow({ name: "dave", role: "viewer" }));
      expect(names(await c().users.list())).toEqual(["alice", "bob", "carol", "dave"]);
      expect(await c().users.count()).toBe(4);
      expect(await c().users.countAdmins()).toBe(2);
    });

    test("update changes the password hash and the role, alone or together", async () => {
      const bob = (await c().users.byName("bob"))!;
      expect(await c().users.update(bob.uuid, { passwordHash: "new-hash" })).toBe(true);
      expect(await c().users.get(bob.uuid)).toEqual({ ...bob, passwordHash: "new-hash" });
      expect(await c().users.update(bob.uuid, { role: "admin" })).toBe(true);
      expect(await c().users.get(bob.uuid)).toEqual({ ...bob, passwordHash: "new-hash", role: "admin" });
      expect(await c().users.countAdmins()).toBe(3);
      expect(await c().users.update(bob.uuid, { passwordHash: "newer-hash", role: "operator" })).toBe(true);
      expect(await c().users.get(bob.uuid)).toEqual({ ...bob, passwordHash: "newer-hash", role: "operator" });
      expect(await c().users.update(crypto.randomUUID(), { role: "admin" })).toBe(false);
      expect(await c().users.countAdmins()).toBe(2);
    });

    test("a taken user name is a unique violation", async () => {
      const err = await rejection(c().users.create(userRow({ name: "alice" })));
      expect(isUniqueViolation(err)).toBe(true);
      expect(await c().users.count()).toBe(4);
    });

    test("delete removes the user once", async () => {
      const dave = (await c().users.byName("dave"))!;
      expect(await c().users.delete(dave.uuid)).toBe(true);
      expect(await c().users.get(dave.uuid)).toBeUndefined();
      expect(await c().users.delete(dave.uuid)).toBe(false);
      expect(names(await c().users.list())).toEqual(["alice", "bob", "carol"]);
    });
  });

  describe(`tokens on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;
    const alice = userRow({ name: "alice", role: "admin" });
    const bob = userRow({ name: "bob", role: "operator" });
    const aliceCi = tokenRow({ userUuid: alice.uuid, name: "ci" });
    const aliceLaptop = tokenRow({ userUuid: alice.uuid, name: "laptop" });
    const bobCi = tokenRow({ userUuid: bob.uuid, name: "ci" });
    beforeAll(async () => {
      await c().users.create(alice);
      await c().users.create(bob);
      for (const t of [aliceLaptop, bobCi, aliceCi]) await c().tokens.create(t);
    });

    test("listForUser lists that user's tokens by name, never used yet", async () => {
      expect(await c().tokens.listForUser(alice.uuid)).toEqual([{ ...aliceCi, lastUsedAt: null, checkedAt: T0 }, { ...aliceLaptop, lastUsedAt: null, checkedAt: T0 }]);
      expect(await c().tokens.listForUser(bob.uuid)).toEqual([{ ...bobCi, lastUsedAt: null, checkedAt: T0 }]);
      expect(await c().tokens.listForUser(crypto.randomUUID())).toEqual([]);
    });

    test("userByHash finds the user and the token a hash belongs to", async () => {
      expect(await c().tokens.userByHash(aliceLaptop.tokenHash)).toEqual({ user: alice, token: { ...aliceLaptop, lastUsedAt: null, checkedAt: T0 } });
      expect(await c().tokens.userByHash(bobCi.tokenHash)).toEqual({ user: bob, token: { ...bobCi, lastUsedAt: null, checkedAt: T0 } });
      expect(await c().tokens.userByHash("0".repeat(64))).toBeUndefined();
    });

    test("touch records when the token was last used, for that token only", async () => {
      await c().tokens.touch(aliceCi.uuid, T0 + 100);
      expect((await c().tokens.userByHash(aliceCi.tokenHash))!.token.lastUsedAt).toBe(T0 + 100);
      await c().tokens.touch(aliceCi.uuid, T0 + 200);
      expect((await c().tokens.userByHash(aliceCi.tokenHash))!.token.lastUsedAt).toBe(T0 + 200);
      expect((await c().tokens.userByHash(aliceLaptop.tokenHash))!.token.lastUsedAt).toBeNull();
      // Touching a token that is gone is no error.
      await c().tokens.touch(crypto.randomUUID(), T0);
    });

    test("a token name is unique per user, not across users", async () => {
      const err = await rejection(c().tokens.create(tokenRow({ userUuid: alice.uuid, name: "laptop" })));
      expect(isUniqueViolation(err)).toBe(true);
      // bobCi already shares aliceCi's name.
      expect(names(await c().tokens.listForUser(bob.uuid))).toEqual(["ci"]);
    });

    test("a token hash is unique", async () => {
      const err = await rejection(c().tokens.create(tokenRow({ userUuid: bob.uuid, name: "copy", tokenHash: aliceCi.tokenHash })));
      expect(isUniqueViolation(err)).toBe(true);
      expect((await c().tokens.userByHash(aliceCi.tokenHash))!.user.uuid).toBe(alice.uuid);
    });

    test("a token for a user who does not exist is refused", async () => {
      const orphan = tokenRow({ userUuid: crypto.randomUUID() });
      const err = await rejection(c().tokens.create(orphan));
      expect(err).toBeInstanceOf(Error);
      expect(isUniqueViolation(err)).toBe(false);
      expect(await c().tokens.userByHash(orphan.tokenHash)).toBeUndefined();
    });

    test("delete is scoped to the owner: another user cannot delete the token", async () => {
      expect(await c().tokens.delete(aliceLaptop.uuid, bob.uuid)).toBe(false);
      expect(await c().tokens.userByHash(aliceLaptop.tokenHash)).toBeDefined();
      expect(await c().tokens.delete(aliceLaptop.uuid, alice.uuid)).toBe(true);
      expect(await c().tokens.userByHash(aliceLaptop.tokenHash)).toBeUndefined();
      expect(await c().tokens.delete(aliceLaptop.uuid, alice.uuid)).toBe(false);
      expect(names(await c().tokens.listForUser(alice.uuid))).toEqual(["ci"]);
    });

    test("deleting a user deletes their tokens, and only theirs", async () => {
      expect(await c().users.delete(alice.uuid)).toBe(true);
      expect(await c().tokens.listForUser(alice.uuid)).toEqual([]);
      expect(await c().tokens.userByHash(aliceCi.tokenHash)).toBeUndefined();
      expect((await c().tokens.userByHash(bobCi.tokenHash))!.user).toEqual(bob);
      // The name and hash are free again.
      await c().users.create(alice);
      await c().tokens.create(aliceCi);
      expect((await c().tokens.userByHash(aliceCi.tokenHash))!.token.lastUsedAt).toBeNull();
    });
  });
}
