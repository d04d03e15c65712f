// The migrations drizzle-kit generated under drizzle/, imported as text so that
// `bun build --compile` embeds them in the executable. After `npm run db:generate`,
// add the new files here (test/catalog/migrations.test.ts fails until you do).
import pg0000 from "../../drizzle/pg/0000_init.sql" with { type: "text" };
import pg0001 from "../../drizzle/pg/0001_task_store_key_job_compression.sql" with { type: "text" };
import pg0002 from "../../drizzle/pg/0002_scheduler_queue_retention.sql" with { type: "text" };
import pg0003 from "../../drizzle/pg/0003_task_heartbeat.sql" with { type: "text" };
import pg0004 from "../../drizzle/pg/0004_task_requested_by.sql" with { type: "text" };
import pg0005 from "../../drizzle/pg/0005_gfs_retention_pins.sql" with { type: "text" };
import pg0006 from "../../drizzle/pg/0006_agents.sql" with { type: "text" };
import pg0007 from "../../drizzle/pg/0007_notifications_drills.sql" with { type: "text" };
import pg0008 from "../../drizzle/pg/0008_auth_providers.sql" with { type: "text" };
import pg0009 from "../../drizzle/pg/0009_archive_objects.sql" with { type: "text" };
import pg0010 from "../../drizzle/pg/0010_job_health.sql" with { type: "text" };
import pg0011 from "../../drizzle/pg/0011_copies_limits.sql" with { type: "text" };
import pg0012 from "../../drizzle/pg/0012_oidc_provider_data.sql" with { type: "text" };
import pg0013 from "../../drizzle/pg/0013_job_without_schedule.sql" with { type: "text" };
import pg0014 from "../../drizzle/pg/0014_audit_trail.sql" with { type: "text" };
import pg0015 from "../../drizzle/pg/0015_archive_totals.sql" with { type: "text" };
import pg0016 from "../../drizzle/pg/0016_job_last_runs.sql" with { type: "text" };
import sqlite0000 from "../../drizzle/sqlite/0000_init.sql" with { type: "text" };
import sqlite0001 from "../../drizzle/sqlite/0001_task_store_key_job_compression.sql" with { type: "text" };
import sqlite0002 from "../../drizzle/sqlite/0002_scheduler_queue_retention.sql" with { type: "text" };
import sqlite0003 from "../../drizzle/sqlite/0003_task_heartbeat.sql" with { type: "text" };
import sqlite0004 from "../../drizzle/sqlite/0004_task_requested_by.sql" with { type: "text" };
import sqlite0005 from "../../drizzle/sqlite/0005_gfs_retention_pins.sql" with { type: "text" };
import sqlite0006 from "../../drizzle/sqlite/0006_agents.sql" with { type: "text" };
import sqlite0007 from "../../drizzle/sqlite/0007_notifications_drills.sql" with { type: "text" };
import sqlite0008 from "../../drizzle/sqlite/0008_auth_providers.sql" with { type: "text" };
import sqlite0009 from "../../drizzle/sqlite/0009_archive_objects.sql" with { type: "text" };
import sqlite0010 from "../../drizzle/sqlite/0010_job_health.sql" with { type: "text" };
import sqlite0011 from "../../drizzle/sqlite/0011_copies_limits.sql" with { type: "text" };
import sqlite0012 from "../../drizzle/sqlite/0012_oidc_provider_data.sql" with { type: "text" };
import sqlite0013 from "../../drizzle/sqlite/0013_job_without_schedule.sql" with { type: "text" };
import sqlite0014 from "../../drizzle/sqlite/0014_audit_trail.sql" with { type: "text" };
import sqlite0015 from "../../drizzle/sqlite/0015_archive_totals.sql" with { type: "text" };
import sqlite0016 from "../../drizzle/sqlite/0016_job_last_runs.sql" with { type: "text" };

export interface Migration { tag: string; sql: string }

export const migrations: Record<"pg" | "sqlite", Migration[]> = {
  pg: [
    { tag: "0000_init", sql: pg0000 },
    { tag: "0001_task_store_key_job_compression", sql: pg0001 },
    { tag: "0002_scheduler_queue_retention", sql: pg0002 },
    { tag: "0003_task_heartbeat", sql: pg0003 },
    { tag: "0004_task_requested_by", sql: pg0004 },
    { tag: "0005_gfs_retention_pins", sql: pg0005 },
    { tag: "0006_agents", sql: pg0006 },
    { tag: "0007_notifications_drills", sql: pg0007 },
    { tag: "0008_auth_providers", sql: pg0008 },
    { tag: "0009_archive_objects", sql: pg0009 },
    { tag: "0010_job_health", sql: pg0010 },
    { tag: "0011_copies_limits", sql: pg0011 },
    { tag: "0012_oidc_provider_data", sql: pg0012 },
    { tag: "0013_job_without_schedule", sql: pg0013 },
    { tag: "0014_audit_trail", sql: pg0014 },
    { tag: "0015_archive_totals", sql: pg0015 },
    { tag: "0016_job_last_runs", sql: pg0016 },
  ],
  sqlite: [
    { tag: "0000_init", sql: sqlite0000 },
    { tag: "0001_task_store_key_job_compression", sql: sqlite0001 },
    { tag: "0002_scheduler_queue_retention", sql: sqlite0002 },
    { tag: "0003_task_heartbeat", sql: sqlite0003 },
    { tag: "0004_task_requested_by", sql: sqlite0004 },
    { tag: "0005_gfs_retention_pins", sql: sqlite0005 },
    { tag: "0006_agents", sql: sqlite0006 },
    { tag: "0007_notifications_drills", sql: sqlite0007 },
    { tag: "0008_auth_providers", sql: sqlite0008 },
    { tag: "0009_archive_objects", sql: sqlite0009 },
    { tag: "0010_job_health", sql: sqlite0010 },
    { tag: "0011_copies_limits", sql: sqlite0011 },
    { tag: "0012_oidc_provider_data", sql: sqlite0012 },
    { tag: "0013_job_without_schedule", sql: sqlite0013 },
    { tag: "0014_audit_trail", sql: sqlite0014 },
    { tag: "0015_archive_totals", sql: sqlite0015 },
    { tag: "0016_job_last_runs", sql: sqlite0016 },
  ],
};

export function statements(m: Migration): string[] {
  return m.sql.split("--> statement-breakpoint").map((s) => s.trim()).filter(Boolean);
}
