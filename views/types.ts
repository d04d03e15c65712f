// What the views are given: the /v1 JSON shapes (as the API's own schemas declare
// them) and the few things the web layer adds. Views never see an endpoint as
// stored: only EndpointView, from which secrets have been taken out.
import type * as v from "valibot";
import type { EndpointField as PluginField } from "../src/endpoint-fields.ts";
import type { ArchiveJson, JobHealthJson, RetentionJson, RetentionPreviewJson, ScheduleJson, StatisticsJson, StoreJson, TargetJson, TaskJson } from "../src/api/schemas.ts";

/** A job as GET /v1/jobs answers it: with its last run, next run and the window's figures. */
export type Job = v.InferOutput<typeof JobHealthJson>;
export type Statistics = v.InferOutput<typeof StatisticsJson>;
export type Archive = v.InferOutput<typeof ArchiveJson>;
export type Task = v.InferOutput<typeof TaskJson>;
export type Retention = v.InferOutput<typeof RetentionJson>;
export type RetentionPreview = v.InferOutput<typeof RetentionPreviewJson>;
export type Target = v.InferOutput<typeof TargetJson>;
export type Store = v.InferOutput<typeof StoreJson>;
export type Schedule = v.InferOutput<typeof ScheduleJson>;

/** The signed-in user, as every page needs them. */
export interface Me {
  name: string;
  role: "admin" | "operator" | "viewer";
  csrf: string;
  canOperate: boolean;
}

export interface Flash { kind: "ok" | "error"; text: string }

/** A field of a plugin's endpoint, as its `info` describes it (the protocol's own type; unknown types are shown as text). */
export type { PluginField };

export interface PluginView {
  name: string;
  title: string;
  target: boolean;
  store: boolean;
  /** Empty: the plugin describes no fields, and its endpoint is edited as JSON. */
  fields: PluginField[];
}

/** One line of an endpoint for display: a secret's value is never here, only whether it is set. */
export interface EndpointLine { name: string; title: string; value: string | undefined; secret: boolean }
export interface EndpointView { plugin: string; lines: EndpointLine[] }

/** Validation messages by field name (the API's 400 `fields`, or the web's own). */
export type Errors = Record<string, string>;
