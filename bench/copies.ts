// Issue 19's benchmarks, through the compiled daemon's API (results in bench/S3.md):
//
// copy     a 1 GiB archive (bench/plugins/bench-zero, compression none, encryption
//          on) backed up into an fs store, and copied by the job's `copies` to an
//          s3 store on a private moto_server, against the s3 store's own relay of
//          the same blob (`shield plugin s3 store < the fs store's blob file`), in
//          interleaved pairs (the order alternating: the copy runs right after its
//          backup, so the relay goes after it or before the next backup). The copy
//          is timed from the copy task's first "running" to its "done" (polled every
//          50 ms). Target: relay time / copy time ≥ 0.9.
// bwlimit  a backup of BENCH_BW_SECONDS (60) × 50 MiB into an fs store whose
//          bandwidth limit is 50 MiB/s: the stored blob's size is sampled about
//          every second on disk (the fs store's .partial file), and the achieved
//          rate over the whole window and each second's rate are printed.
//          Target: the window's rate within 5 % of 50 MiB/s.
//
//   npm run build && bun run bench/copies.ts [copy|bwlimit|all]   # BENCH_COPY_MIB=1024 BENCH_COPY_RUNS=3 BENCH_BW_SECONDS=60
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { startShieldDaemon, type DaemonProcess } from "../test/helpers/daemon.ts";
import { freshBucket, motoAvailable, motoEndpoint, startServer, type Moto } from "../test/helpers/s3.ts";

const WHAT = process.argv[2] ?? "all";
const COPY_MIB = Number(process.env.BENCH_COPY_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_COPY_RUNS ?? 3);
const BW_SECONDS = Number(process.env.BENCH_BW_SECONDS ?? 60);
const RATE = 50 * 1024 * 1024;
const SHIELD = resolve(import.meta.dir, "../dist/shield");
const PASSWORD = "bench-copies-password";

const load = () => loadavg()[0]!.toFixed(1);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const dir = mkdtempSync(join(tmpdir(), "shield-bench-copies-"));

async function daemon(): Promise<{ d: DaemonProcess; call: (method: string, path: string, body?: unknown) => Promise<any>; create: (path: string, body: unknown) => Promise<string> }> {
  const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`, "content-type": "application/json" };
  const d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  const call = async (method: string, path: string, body?: unknown) =>
    (await (await fetch(d.url + path, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })).json()) as any;
  const create = async (path: string, body: unknown) => {
    const r = await call("POST", path, body);
    if (!r.uuid) throw new Error(`POST ${path}: ${JSON.stringify(r)}`);
    return r.uuid as string;
  };
  return { d, call, create };
}

async function copy(): Promise<void> {
  const moto: Moto = await startServer();
  // moto holds an object several times over in memory while completing it: should the
  // machine run short, the kernel is to stop moto, not another process.
  writeFileSync(`/proc/${moto.pid}/oom_score_adj`, "1000");
  const bucket = await freshBucket("copies", moto);
  const base = join(dir, "fs");
  mkdirSync(base);
  const { d, call, create } = await daemon();
  try {
    const fs = await create("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: base } });
    const s3 = await create("/v1/stores", { name: "s3", plugin: "s3", endpoint: motoEndpoint(moto, bucket) });
    const target = await create("/v1/targets", { name: "zero", plugin: "bench-zero", endpoint: { size: COPY_MIB * 1024 * 1024 }, agent: "" });
    const schedule = await create("/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await create("/v1/retention", { name: "day", expires: 86400 });
    const job = await create("/v1/jobs", { name: "copied", target, store: fs, schedule, retention, paused: true, compression: "none", copies: [{ store: s3, retention }] });

    const backupAndCopy = async () => {
      const l = load();
      const { task_uuid } = await call("POST", `/v1/job/${job}/run`, {});
      let backup: any;
      for (;;) {
        backup = await call("GET", `/v1/task/${task_uuid}`);
        if (!["pending", "running"].includes(backup.status)) break;
        await Bun.sleep(200);
      }
      if (backup.status !== "done") throw new Error(`backup ${backup.status}: ${backup.log}`);
      const archive = backup.archive_uuid as string;
      let started = 0;
      let copyTask: any;
      for (const deadline = Date.now() + 600_000; ;) {
        const tasks = (await call("GET", `/v1/tasks?archive=${archive}`)) as any[];
        copyTask = tasks.find((t) => t.type === "copy");
        if (copyTask?.status === "running" && !started) started = performance.now();
        if (copyTask && !["pending", "running"].includes(copyTask.status)) break;
        if (Date.now() > deadline) throw new Error("copy did not finish");
        await Bun.sleep(50);
      }
      const secs = (performance.now() - started) / 1000;
      if (copyTask.status !== "done" || !started) throw new Error(`copy ${copyTask.status} (seen running: ${!!started}): ${copyTask.error}`);
      const shown = await call("GET", `/v1/archive/${archive}`);
      if (shown.copies?.[0]?.status !== "valid") throw new Error(`copy not valid: ${JSON.stringify(shown.copies)}`);
      await moto.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: shown.copies[0].store_key }));
      return { secs, load: l, blob: join(base, shown.store_key), size: shown.size as number };
    };
    const relay = async (blob: string) => {
      const l = load();
      const t = performance.now();
      // Not spawnSync: the daemon's output comes through pipes this event loop drains.
      const p = Bun.spawn(["sh", "-c", `${SHIELD} plugin s3 store < ${blob}`], { env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify(motoEndpoint(moto, bucket)) }, stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
      const secs = (performance.now() - t) / 1000;
      if (code !== 0) throw new Error(`relay failed: ${err}`);
      await moto.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: JSON.parse(out).key }));
      return { secs, load: l };
    };

    console.log(`| pair | order | copy fs → s3 s (MiB/s, load) | s3 relay s (MiB/s, load) | relay time / copy time |`);
    console.log(`|---|---|---|---|---|`);
    const ratios: number[] = [];
    const copies: number[] = [];
    const relays: number[] = [];
    let blob = "";
    for (let i = 0; i < RUNS; i++) {
      const copyFirst = i % 2 === 0 || !blob;
      let c, r;
      if (copyFirst) {
        c = await backupAndCopy();
        r = await relay(c.blob);
      } else {
        r = await relay(blob);
        c = await backupAndCopy();
      }
      blob = c.blob;
      const mib = c.size / 1024 / 1024;
      ratios.push(r.secs / c.secs);
      copies.push(c.secs);
      relays.push(r.secs);
      console.log(`| ${i + 1} | ${copyFirst ? "copy, relay" : "relay, copy"} | ${c.secs.toFixed(1)} (${(mib / c.secs).toFixed(0)}, ${c.load}) | ${r.secs.toFixed(1)} (${(mib / r.secs).toFixed(0)}, ${r.load}) | ${(r.secs / c.secs).toFixed(2)} |`);
    }
    console.log(`\n${COPY_MIB} MiB archive, ${RUNS} pairs: copy median ${median(copies).toFixed(1)} s, relay median ${median(relays).toFixed(1)} s;` +
      ` copy speed / relay speed: median ${median(ratios).toFixed(2)} (pairs ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); target ≥ 0.9`);
  } finally {
    await d.stop();
    moto.stop();
  }
}

function partialSize(base: string): number {
  try {
    let n = 0;
    for (const f of readdirSync(join(base, ".incoming"))) if (f.endsWith(".partial")) n += statSync(join(base, ".incoming", f)).size;
    return n;
  } catch {
    return 0;
  }
}

async function bwlimit(): Promise<void> {
  const base = join(dir, "bw");
  mkdirSync(base);
  const { d, call, create } = await daemon();
  try {
    const size = BW_SECONDS * RATE;
    const store = await create("/v1/stores", { name: "limited", plugin: "fs", endpoint: { base_dir: base }, bandwidth: RATE });
    const target = await create("/v1/targets", { name: "zero", plugin: "bench-zero", endpoint: { size }, agent: "" });
    const schedule = await create("/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await create("/v1/retention", { name: "day", expires: 86400 });
    const job = await create("/v1/jobs", { name: "limited", target, store, schedule, retention, paused: true, compression: "none" });
    const loads = [load()];
    const samples: { t: number; bytes: number }[] = [];
    const { task_uuid } = await call("POST", `/v1/job/${job}/run`, {});
    let task: any;
    let next = performance.now();
    for (;;) {
      const bytes = partialSize(base);
      if (bytes > 0) samples.push({ t: performance.now(), bytes });
      if (samples.length % 15 === 0) loads.push(load());
      task = await call("GET", `/v1/task/${task_uuid}`);
      if (!["pending", "running"].includes(task.status)) break;
      next += 1000;
      await Bun.sleep(Math.max(0, next - performance.now()));
    }
    if (task.status !== "done") throw new Error(`backup ${task.status}: ${task.log}`);
    const archive = await call("GET", `/v1/archive/${task.archive_uuid}`);
    // The limit counts the bytes the guard reads (here the raw stream); the blob is
    // those plus the encryption's per-chunk overhead.
    const overhead = archive.size / size;
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const mibs = (b: number, s: number) => b / s / 1024 / 1024 / overhead;
    const window = mibs(last.bytes - first.bytes, (last.t - first.t) / 1000);
    const perSecond = samples.slice(1).map((s, i) => mibs(s.bytes - samples[i]!.bytes, (s.t - samples[i]!.t) / 1000));
    // The first and last seconds hold the start and the end of the stream; the steady part is between.
    const steady = perSecond.slice(1, -1);
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    const sd = Math.sqrt(steady.reduce((a, b) => a + (b - mean) ** 2, 0) / steady.length);
    console.log(`| limit | backup | samples | rate over the window | off target | per-second rate: median, min-max, sd | load |`);
    console.log(`|---|---|---|---|---|---|---|`);
    console.log(`| 50 MiB/s (store) | ${(size / 1024 / 1024).toFixed(0)} MiB, ${task.started_at} to ${task.stopped_at} | ${samples.length} over ${((last.t - first.t) / 1000).toFixed(1)} s |` +
      ` ${window.toFixed(2)} MiB/s | ${((window / 50 - 1) * 100).toFixed(2)} % | ${median(steady).toFixed(1)}, ${Math.min(...steady).toFixed(1)}-${Math.max(...steady).toFixed(1)}, ${sd.toFixed(2)} MiB/s | ${loads.join(", ")} |`);
    console.log(`\nper-second rates (MiB/s): ${perSecond.map((r) => r.toFixed(1)).join(" ")}`);
  } finally {
    await d.stop();
  }
}

if (WHAT === "copy" || WHAT === "all") await copy();
if (WHAT === "bwlimit" || WHAT === "all") await bwlimit();
rmSync(dir, { recursive: true, force: true });
