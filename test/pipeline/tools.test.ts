// The pipeline's own programs: the mkfifo tool is only a fallback for libc's mkfifo,
// so a machine without it (a slim container) still runs backups where libc is there.
import { describe, expect, test } from "bun:test";
import { libc } from "../../src/libc.ts";
import { fifoTool, missingTools, TOOLS } from "../../src/pipeline/tools.ts";

describe("pipeline tools", () => {
  test("mkfifo is required only where libc's mkfifo cannot be called", () => {
    const viaLibc = libc() !== null;
    expect(fifoTool()).toBe(viaLibc ? undefined : "mkfifo");
    const mkfifo = TOOLS.find((t) => t.name === "mkfifo");
    expect(mkfifo?.needed?.()).toBe(!viaLibc);
    if (viaLibc) expect(missingTools().map((t) => t.name)).not.toContain("mkfifo");
  });
});
