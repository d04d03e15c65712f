// What waiting on a quiet pipe costs a process of ours: the CPU of one wait of
// BENCH_IDLE_MS (default 3000) for a pipe nobody writes, in waitFor's turns (seal.ts) of
// three lengths, in interleaved rounds:
//
//   turns 10 ms   WAIT_TURN_MS: every read, and a write until it has waited IDLE_MS
//   turns 50 ms   IDLE_TURN_MS: a write that has waited IDLE_MS (a slow stage downstream)
//   turns 100 ms  the relay's (agent/data-receiver.ts TURN_MS)
//
//   ./node_modules/.bin/bun run bench/idle-wait.ts        (BENCH_RUNS rounds, default 5)
//
// Results: bench/DATAPATH.md, "Twentieth session".
import { writeSync } from "node:fs";
import { cpuUsage } from "node:process";
import { osPipe } from "../src/agent/os-pipe.ts";
import { libc, POLLIN } from "../src/libc.ts";
import { waitFor } from "../src/pipeline/seal.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WAIT_MS = Number(process.env.BENCH_IDLE_MS ?? 3000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The CPU milliseconds (user + system) of this process while `wait` waits on a pipe written only after WAIT_MS. */
async function measure(wait: (nonBlocking: number) => Promise<void>): Promise<number> {
  const pipe = osPipe();
  const before = cpuUsage();
  const writer = setTimeout(() => writeSync(pipe.write, Buffer.from("x")), WAIT_MS);
  await wait(pipe.nonBlocking);
  const used = cpuUsage(before);
  clearTimeout(writer);
  pipe.close();
  return (used.user + used.system) / 1000;
}

/** Turns of `turnMs` until the pipe has a byte. */
const turns = (turnMs: number) => async (fd: number) => {
  do await waitFor(fd, POLLIN, turnMs);
  while (libc()!.poll(fd, POLLIN, 0) !== 1);
};

const ways: [string, (fd: number) => Promise<void>][] = [
  ["turns 10 ms", turns(10)],
  ["turns 50 ms", turns(50)],
  ["turns 100 ms", turns(100)],
];

console.log(`# Waiting on a quiet pipe (${new Date().toISOString()}; ${RUNS} rounds of a ${WAIT_MS} ms wait each)`);
console.log();
console.log(`| round | ${ways.map(([n]) => n).join(" | ")} |`);
console.log(`|---|${ways.map(() => "---|").join("")}`);
const got = new Map<string, number[]>(ways.map(([n]) => [n, []]));
for (let round = 0; round < RUNS; round++) {
  const cells: string[] = [];
  // The order rotates each round, so that whatever else the machine does falls on all alike.
  for (let k = 0; k < ways.length; k++) {
    const [name, wait] = ways[(k + round) % ways.length]!;
    got.get(name)!.push(await measure(wait));
  }
  for (const [name] of ways) cells.push(`${got.get(name)!.at(-1)!.toFixed(1)} ms`);
  console.log(`| ${round + 1} | ${cells.join(" | ")} |`);
}
console.log(`| **median** | ${ways.map(([n]) => `**${median(got.get(n)!).toFixed(1)} ms** (${Math.min(...got.get(n)!).toFixed(1)}–${Math.max(...got.get(n)!).toFixed(1)})`).join(" | ")} |`);
console.log();
console.log(`CPU of this process (user + system) over the wait; per second of waiting: ${ways.map(([n]) => `${n} ${(median(got.get(n)!) / (WAIT_MS / 1000)).toFixed(1)} ms`).join(", ")}.`);
process.exit(0);
