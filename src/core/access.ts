// Who may do what. Roles nest: a viewer reads; an operator also runs, restores and
// manages jobs, targets, stores, schedules and policies; an admin also manages users.
import type { Role } from "../catalog/index.ts";

export type Permission = "read" | "operate" | "admin";

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const NEEDED_RANK: Record<Permission, number> = { read: 0, operate: 1, admin: 2 };

export const ROLES: readonly Role[] = ["admin", "operator", "viewer"];

export function allows(role: Role, permission: Permission): boolean {
  return ROLE_RANK[role] >= NEEDED_RANK[permission];
}

/** The smallest role holding a permission, for a 403 that says what is missing. */
export function roleFor(permission: Permission): Role {
  return permission === "admin" ? "admin" : permission === "operate" ? "operator" : "viewer";
}
