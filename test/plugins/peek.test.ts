// peekPipe, peekLine and peekBefore (plugins/peek.ts): a pipe's first bytes, its first line, or
// what comes before a line, seen and left in place for the next reader; takeFromPipe takes them.
import { describe, expect, test } from "bun:test";
import { readSync, writeSync } from "node:fs";
import { osPipe } from "../../src/agent/os-pipe.ts";
import { peekBefore, peekLine, peekPipe, takeFromPipe } from "../../plugins/peek.ts";
import { libc } from "../../src/libc.ts";

/** Everything left in the pipe, read from its non-blocking end. */
function drain(fd: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try { n = readSync(fd, buf, 0, buf.length, null); } catch { break; } // EAGAIN: nothing more
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts);
}

describe.skipIf(!libc())("peekPipe", () => {
  test("the first bytes are seen and every byte is still there for the reader", async () => {
    const p = osPipe();
    try {
      const data = Buffer.concat([Buffer.from("PGDMP"), Buffer.alloc(100_000, 7)]);
      writeSync(p.write, data.subarray(0, 50_000));
      expect(await peekPipe(p.read, 5)).toEqual(Buffer.from("PGDMP"));
      writeSync(p.write, data.subarray(50_000));
      expect(drain(p.nonBlocking)).toEqual(data);
    } finally {
      p.close();
    }
  });

  test("it waits for the first bytes; an input that ends empty is empty; too few bytes: null (the caller reads them)", async () => {
    const p = osPipe();
    try {
      const seen = peekPipe(p.read, 5);
      await Bun.sleep(30);
      writeSync(p.write, "--\nSQL");
      expect((await seen)?.toString()).toBe("--\nSQ");
      expect(drain(p.nonBlocking).toString()).toBe("--\nSQL");
      writeSync(p.write, "abc");
      expect(await peekPipe(p.read, 5)).toBeNull();
      drain(p.nonBlocking);
      p.closeWrite();
      expect(await peekPipe(p.read, 5)).toEqual(Buffer.alloc(0));
    } finally {
      p.close();
    }
  });

  test("not a pipe: null", async () => {
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync("/dev/null", "r");
    try {
      expect(await peekPipe(fd, 5)).toBeNull();
    } finally {
      closeSync(fd);
    }
  });

  test("a cancel while it waits ends the wait", async () => {
    const p = osPipe();
    try {
      const stop = new AbortController();
      const seen = peekPipe(p.read, 5, stop.signal);
      stop.abort(new Error("stopped"));
      await expect(seen).rejects.toThrow("stopped");
    } finally {
      p.close();
    }
  });
});

describe.skipIf(!libc())("peekLine", () => {
  test("the first line (with its newline) is seen and every byte is still there for the reader", async () => {
    const p = osPipe();
    try {
      const data = Buffer.concat([Buffer.from('-- shield-mysql archive v1: {"kind":"database","database":"shop"}\n'), Buffer.alloc(200_000, 65)]);
      writeSync(p.write, data.subarray(0, 100_000));
      expect((await peekLine(p.read, 4096))?.toString()).toBe('-- shield-mysql archive v1: {"kind":"database","database":"shop"}\n');
      writeSync(p.write, data.subarray(100_000));
      expect(drain(p.nonBlocking)).toEqual(data);
    } finally {
      p.close();
    }
  });

  test("it waits for the first bytes, and for the rest of a line that came in two writes", async () => {
    const p = osPipe();
    try {
      const seen = peekLine(p.read, 4096);
      await Bun.sleep(30);
      writeSync(p.write, "-- MariaDB d");
      await Bun.sleep(30);
      writeSync(p.write, "ump 10.11\nSET x=1;\n");
      expect((await seen)?.toString()).toBe("-- MariaDB dump 10.11\n");
      expect(drain(p.nonBlocking).toString()).toBe("-- MariaDB dump 10.11\nSET x=1;\n");
    } finally {
      p.close();
    }
  });

  test("an input that ends empty is empty; no newline within max, or none coming: null (the caller reads)", async () => {
    const p = osPipe();
    try {
      writeSync(p.write, Buffer.alloc(5000, 66));
      expect(await peekLine(p.read, 4096)).toBeNull();
      drain(p.nonBlocking);
      // One short line without its newline, and nothing more coming for now: given up within a moment.
      writeSync(p.write, "abc");
      const from = performance.now();
      expect(await peekLine(p.read, 4096)).toBeNull();
      expect(performance.now() - from).toBeLessThan(2000);
      expect(drain(p.nonBlocking).toString()).toBe("abc");
      p.closeWrite();
      expect(await peekLine(p.read, 4096)).toEqual(Buffer.alloc(0));
    } finally {
      p.close();
    }
  });

  test("not a pipe: null; a cancel while it waits ends the wait", async () => {
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync("/dev/null", "r");
    try {
      expect(await peekLine(fd, 4096)).toBeNull();
    } finally {
      closeSync(fd);
    }
    const p = osPipe();
    try {
      const stop = new AbortController();
      const seen = peekLine(p.read, 4096, stop.signal);
      stop.abort(new Error("stopped"));
      await expect(seen).rejects.toThrow("stopped");
    } finally {
      p.close();
    }
  });
});

describe.skipIf(!libc())("peekBefore and takeFromPipe", () => {
  const head = "--\n-- PostgreSQL database cluster dump\n--\nCREATE ROLE app;\n-- Databases\n";
  const rest = "\\connect template1\n" + "x".repeat(100_000) + "\n\\connect app\n";

  test("what comes before the first line that starts so is seen, left in place, then taken out: the rest stays for the reader", async () => {
    const p = osPipe();
    try {
      writeSync(p.write, head + rest.slice(0, 50_000));
      const seen = await peekBefore(p.read, "\\connect ", 60 * 1024);
      expect(seen?.toString()).toBe(head);
      writeSync(p.write, rest.slice(50_000));
      takeFromPipe(p.read, seen!);
      expect(drain(p.nonBlocking).toString()).toBe(rest);
    } finally {
      p.close();
    }
  });

  test("it waits for the line; none within max, or none coming: null, every byte still there", async () => {
    const p = osPipe();
    try {
      const seen = peekBefore(p.read, "\\connect ", 60 * 1024);
      writeSync(p.write, head);
      await Bun.sleep(30);
      writeSync(p.write, rest);
      expect((await seen)?.toString()).toBe(head);
      drain(p.nonBlocking);
      writeSync(p.write, "y".repeat(70_000) + "\n\\connect a\n");
      expect(await peekBefore(p.read, "\\connect ", 60 * 1024)).toBeNull();
      drain(p.nonBlocking);
      // A dump with no \\connect at all (only its roles), its writer not done: given up within a moment.
      writeSync(p.write, head);
      const from = performance.now();
      expect(await peekBefore(p.read, "\\connect ", 60 * 1024)).toBeNull();
      expect(performance.now() - from).toBeLessThan(2000);
      expect(drain(p.nonBlocking).toString()).toBe(head);
    } finally {
      p.close();
    }
  });

  test("takeFromPipe refuses bytes that are not those seen", () => {
    const p = osPipe();
    try {
      writeSync(p.write, "abcdef");
      expect(() => takeFromPipe(p.read, Buffer.from("abX"))).toThrow("changed");
    } finally {
      p.close();
    }
  });
});
