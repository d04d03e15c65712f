import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Ok } from "./schemas.ts";

const Plugin = v.object({ name: v.string(), version: v.optional(v.string()), target: v.boolean(), store: v.boolean() });
export const AgentJson = v.object({
  name: v.pipe(v.string(), v.description("host:port, or the name of an agent that dials the core, as targets name it")),
  nat: v.pipe(v.boolean(), v.description("it dials the core (shield agent --core URL --name NAME): reachable only while connected")),
  reachable: v.pipe(v.boolean(), v.description("it answered just now, with its pinned key")),
  error: v.pipe(v.nullable(v.string()), v.description("why not, when it did not")),
  version: v.nullable(v.string()),
  host_key: v.pipe(v.nullable(v.string()), v.description("SHA256 fingerprint of its key, pinned at first contact; null before it")),
  first_seen: v.nullable(v.number()),
  last_seen: v.nullable(v.number()),
  plugins: v.pipe(v.array(Plugin), v.description("what it offers (empty when unreachable)")),
  targets: v.pipe(v.array(v.string()), v.description("the targets that name it")),
});
const AgentParam = v.object({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(300)) });

export function agentRoutes(router: Router): void {
  const { agents } = router.core;
  route(router, {
    method: "get", operationId: "listAgents", path: "/v1/agents", tag: "agents", permission: "read",
    summary: "List agents: reachable or not, version, plugins offered, pinned key",
    description: "Every agent whose key is pinned or that a target names, each asked now (a few seconds at most for one that does not answer).",
    response: v.array(AgentJson),
  }, () => agents.list());

  route(router, {
    audit: { type: "agent", action: "forget-key", name: ({ params }) => params.name },
    method: "delete", operationId: "forgetAgentKey", path: "/v1/agent/:name/key", tag: "agents", permission: "admin", params: AgentParam,
    summary: "Forget an agent's pinned key",
    description: "For an agent that was reinstalled (a new key): its next contact pins the key it then presents. Check that key's fingerprint against the agent's log.",
    response: Ok, errors: [404],
  }, async ({ params }) => {
    await agents.resetKey(params.name);
    return { ok: "forgotten" };
  });
}
