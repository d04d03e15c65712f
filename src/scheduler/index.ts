// Time-driven work of the daemon: the timespec language, the scheduler that files
// backups when jobs come due, and the retention purger.
export { Scheduler, DEV_TIMESPEC, type SchedulerOptions } from "./scheduler.ts";
export { Purger, DEFAULT_AUDIT_RETENTION_S, type PurgerOptions } from "./purger.ts";
export { systemClock, type Clock } from "./clock.ts";
