import { asc, eq } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { AuthProviderRow } from "./rows.ts";

/** The configured auth providers ("local" is built in and has no row). `config` is JSON with its secrets sealed. */
export function authProviderQueries({ db, t }: CatalogHandle) {
  const { authProviders } = t;
  return {
    list(): Promise<AuthProviderRow[]> {
      return db.select().from(authProviders).orderBy(asc(authProviders.createdAt), asc(authProviders.name));
    },
    async byName(name: string): Promise<AuthProviderRow | undefined> {
      return (await db.select().from(authProviders).where(eq(authProviders.name, name)))[0];
    },
    async create(row: AuthProviderRow): Promise<void> {
      await db.insert(authProviders).values(row);
    },
    async update(uuid: string, config: string): Promise<boolean> {
      return (await db.update(authProviders).set({ config }).where(eq(authProviders.uuid, uuid)).returning({ uuid: authProviders.uuid })).length > 0;
    },
    async delete(uuid: string): Promise<boolean> {
      return (await db.delete(authProviders).where(eq(authProviders.uuid, uuid)).returning({ uuid: authProviders.uuid })).length > 0;
    },
  };
}
