// Routes for targets, stores, schedules and retention policies: the same five
// endpoints each (list with filters, create, show, update, delete), as in the design.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import type { AuditType } from "./audit.ts";
import { mapRows } from "./rows.ts";
import { Created, Deleted, PAGING_NOTE, Updated, UuidParam } from "./schemas.ts";
import type { OptionalPage, UsageFilter } from "../catalog/index.ts";

interface DefinitionRules<Row, Input> {
  list(f: UsageFilter, page: OptionalPage): Promise<Row[]>;
  get(uuid: string): Promise<Row>;
  create(v: Input): Promise<string>;
  update(uuid: string, v: Input): Promise<void>;
  delete(uuid: string): Promise<void>;
}

export interface DefinitionApi<Row, Input, C extends v.GenericSchema, U extends v.GenericSchema, Q extends v.GenericSchema> {
  /** "target", "retention policy": in summaries. */
  kind: string;
  /** "targets", "retention policies": in summaries of lists. */
  kinds: string;
  /** "Target", "RetentionPolicy": in operationIds (listTargets, showRetentionPolicy). */
  noun: string;
  /** "Targets", "RetentionPolicies". */
  nouns: string;
  /** "/v1/targets" and "/v1/target" (retention uses "/v1/retention" for both). */
  collection: string;
  item: string;
  tag: string;
  rules: DefinitionRules<Row, Input>;
  listQuery: Q;
  createBody: C;
  updateBody: U;
  /** Bodies the two accept, for the OpenAPI document. */
  createExample: unknown;
  updateExample: unknown;
  json: (row: Row) => object;
  jsonSchema: v.GenericSchema;
  /** Said of the list and show routes too: targets and stores tell how their endpoints are redacted. */
  readNote?: string;
  /** Request body → catalog columns (the design names some fields differently from the table). */
  input: (body: v.InferOutput<C> | v.InferOutput<U>) => Input;
}

export function definitionRoutes<Row, Input, C extends v.GenericSchema, U extends v.GenericSchema, Q extends v.GenericSchema>(
  router: Router,
  d: DefinitionApi<Row, Input, C, U, Q>,
): void {
  const { kind, tag } = d;
  const note = d.readNote ? ` ${d.readNote}` : "";
  const item = `${d.item}/:uuid`;
  route(router, {
    method: "get", operationId: `list${d.nouns}`, path: d.collection, tag, permission: "read", query: d.listQuery,
    summary: `List ${d.kinds}, by name`,
    description: `unused=t lists only those no job uses (safe to delete); unused=f only those in use. ${PAGING_NOTE}${note}`,
    response: v.array(d.jsonSchema),
  }, async ({ query }) => {
    const { limit, offset, ...filter } = query as UsageFilter & OptionalPage;
    return mapRows(await d.rules.list(filter, { limit, offset }), d.json);
  });

  route(router, {
    audit: { type: d.kind as AuditType, action: "create", id: ({ result }) => result?.uuid },
    method: "post", operationId: `create${d.noun}`, path: d.collection, tag, permission: "operate", body: d.createBody, example: d.createExample,
    summary: `Create a ${kind}`, response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await d.rules.create(d.input(body)) }));

  route(router, {
    method: "get", operationId: `show${d.noun}`, path: item, tag, permission: "read", params: UuidParam,
    summary: `Show a ${kind}`, description: note.trim() || undefined, response: d.jsonSchema, errors: [404],
  }, async ({ params }) => d.json(await d.rules.get(params.uuid)));

  route(router, {
    audit: { type: d.kind as AuditType, action: "update" },
    method: "put", operationId: `update${d.noun}`, path: item, tag, permission: "operate", params: UuidParam, body: d.updateBody, example: d.updateExample,
    summary: `Update a ${kind}`, description: "summary is required here, though optional on create.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await d.rules.update(params.uuid, d.input(body));
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: d.kind as AuditType, action: "delete" },
    method: "delete", operationId: `delete${d.noun}`, path: item, tag, permission: "operate", params: UuidParam,
    summary: `Delete a ${kind}`, description: `Refused with 409 while a job uses the ${kind}.`,
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await d.rules.delete(params.uuid);
    return { ok: "deleted" };
  });
}
