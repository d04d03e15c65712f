// The agent's data port (src/agent/data.ts), in-process: a connection is taken only
// with the request's one-time token, from the core's address, once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { DataPort, helloLine, sameHost } from "../../src/agent/data.ts";

const token = () => randomBytes(32).toString("hex");

/** Dials the port, sends `hello`; resolves with the socket once it is closed by the far end, or after `ms` still open. */
function dial(port: number, hello: Buffer | string, ms = 300): Promise<{ closed: boolean; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.on("error", () => {});
    sock.on("connect", () => sock.write(hello));
    const timer = setTimeout(() => resolve({ closed: false, sock }), ms);
    sock.on("close", () => { clearTimeout(timer); resolve({ closed: true, sock }); });
  });
}

describe("the data port", () => {
  let dp: DataPort;
  beforeAll(async () => { dp = await DataPort.listen("127.0.0.1", 0); });
  afterAll(async () => { await dp.close(); });

  test("the right token from the core's address is accepted, once; the bytes then flow", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    const core = await dial(dp.port, helloLine(t));
    expect(core.closed).toBe(false);
    const agentSide = await wait.connection;
    const got: Buffer[] = [];
    core.sock.on("data", (b: Buffer) => got.push(b));
    agentSide.end(Buffer.from("sealed archive bytes"));
    await new Promise((r) => core.sock.on("end", r));
    expect(Buffer.concat(got).toString()).toBe("sealed archive bytes");
    // Used: a second connection with it is dropped.
    expect((await dial(dp.port, helloLine(t))).closed).toBe(true);
  });

  test("a wrong token, a malformed first line, or another peer's address are dropped", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    expect((await dial(dp.port, helloLine(token()))).closed).toBe(true);
    expect((await dial(dp.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + "x".repeat(80))).closed).toBe(true);
    // The token sent with more behind it (nothing may come before the agent accepts).
    expect((await dial(dp.port, Buffer.concat([helloLine(t), Buffer.from("extra")]))).closed).toBe(true);
    wait.cancel();
    // Expected from another host: the right token from here is not enough.
    const t2 = token();
    const other = dp.expect(t2, "10.9.8.7");
    expect((await dial(dp.port, helloLine(t2))).closed).toBe(true);
    other.cancel();
    // Canceled: the token is no longer taken.
    expect((await dial(dp.port, helloLine(t))).closed).toBe(true);
  });

  test("sameHost reads an IPv4-mapped address as the IPv4 one", () => {
    expect(sameHost("::ffff:10.1.2.3", "10.1.2.3")).toBe(true);
    expect(sameHost("10.1.2.3", "10.1.2.4")).toBe(false);
    expect(sameHost(undefined, "10.1.2.3")).toBe(false);
  });
});
