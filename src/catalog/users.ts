import { and, asc, count, eq } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { Role, TokenRow, UserRow } from "./rows.ts";

export function userQueries({ db, t }: CatalogHandle) {
  const { users } = t;
  return {
    list(): Promise<UserRow[]> {
      return db.select().from(users).orderBy(asc(users.name));
    },
    async get(uuid: string): Promise<UserRow | undefined> {
      return (await db.select().from(users).where(eq(users.uuid, uuid)))[0];
    },
    async byName(name: string): Promise<UserRow | undefined> {
      return (await db.select().from(users).where(eq(users.name, name)))[0];
    },
    async count(): Promise<number> {
      return (await db.select({ n: count() }).from(users))[0]!.n;
    },
    async countAdmins(): Promise<number> {
      return (await db.select({ n: count() }).from(users).where(eq(users.role, "admin")))[0]!.n;
    },
    /** `provider` "local" when left out. */
    async create(row: Omit<UserRow, "provider" | "providerData"> & { provider?: string; providerData?: string | null }): Promise<void> {
      await db.insert(users).values(row);
    },
    async update(uuid: string, v: Partial<Pick<UserRow, "passwordHash" | "role" | "provider" | "providerData">>): Promise<boolean> {
      return (await db.update(users).set(v).where(eq(users.uuid, uuid)).returning({ uuid: users.uuid })).length > 0;
    },
    async delete(uuid: string): Promise<boolean> {
      return (await db.delete(users).where(eq(users.uuid, uuid)).returning({ uuid: users.uuid })).length > 0;
    },
  };
}

export function tokenQueries({ db, t }: CatalogHandle) {
  const { tokens, users } = t;
  return {
    listForUser(userUuid: string): Promise<TokenRow[]> {
      return db.select().from(tokens).where(eq(tokens.userUuid, userUuid)).orderBy(asc(tokens.name));
    },
    /** The user a token hash belongs to, if any. */
    async userByHash(tokenHash: string): Promise<{ user: UserRow; token: TokenRow } | undefined> {
      const rows = await db.select({ user: users, token: tokens }).from(tokens)
        .innerJoin(users, eq(users.uuid, tokens.userUuid)).where(eq(tokens.tokenHash, tokenHash));
      return rows[0];
    },
    async create(row: Omit<TokenRow, "lastUsedAt" | "role" | "expiresAt" | "checkedAt"> & Partial<Pick<TokenRow, "role" | "expiresAt">>): Promise<void> {
      await db.insert(tokens).values({ ...row, lastUsedAt: null, checkedAt: row.createdAt });
    },
    /** Every user's tokens (web sessions are tokens too), with their owner; one user's when given. */
    async listAll(userUuid?: string): Promise<SessionView[]> {
      const q = db.select({ token: tokens, userName: users.name, provider: users.provider }).from(tokens)
        .innerJoin(users, eq(users.uuid, tokens.userUuid));
      const rows = await (userUuid ? q.where(eq(tokens.userUuid, userUuid)) : q).orderBy(asc(users.name), asc(tokens.createdAt));
      return rows.map((r) => ({ ...r.token, userName: r.userName, provider: r.provider }));
    },
    /** The owner's provider confirmed the owner at `now`. */
    async checked(uuid: string, now: number): Promise<void> {
      await db.update(tokens).set({ checkedAt: now }).where(eq(tokens.uuid, uuid));
    },
    /** Any user's token (an admin revoking a session). */
    async deleteAny(uuid: string): Promise<boolean> {
      return (await db.delete(tokens).where(eq(tokens.uuid, uuid)).returning({ uuid: tokens.uuid })).length > 0;
    },
    async deleteForUser(userUuid: string): Promise<number> {
      return (await db.delete(tokens).where(eq(tokens.userUuid, userUuid)).returning({ uuid: tokens.uuid })).length;
    },
    async touch(uuid: string, now: number): Promise<void> {
      await db.update(tokens).set({ lastUsedAt: now }).where(eq(tokens.uuid, uuid));
    },
    async delete(uuid: string, userUuid: string): Promise<boolean> {
      const rows = await db.delete(tokens).where(and(eq(tokens.uuid, uuid), eq(tokens.userUuid, userUuid))).returning({ uuid: tokens.uuid });
      return rows.length > 0;
    },
  };
}

/** A token with its owner, as admins list sessions. */
export type SessionView = TokenRow & { userName: string; provider: string };

export type { Role };
