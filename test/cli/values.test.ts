import { expect, test } from "bun:test";
import { parseDay, parseDuration, parseEndpoint, parseInteger } from "../../src/cli/values.ts";
import { formatBytes, formatDuration, maskEndpoint } from "../../src/cli/output.ts";
import { normalizeCore } from "../../src/cli/connection.ts";

test("--expires: seconds, or numbers with units", () => {
  expect(parseDuration("3600")).toBe(3600);
  expect(parseDuration("1h")).toBe(3600);
  expect(parseDuration("30d")).toBe(30 * 86400);
  expect(parseDuration("2w")).toBe(14 * 86400);
  expect(parseDuration("1y")).toBe(365 * 86400);
  expect(parseDuration("1d12h")).toBe(36 * 3600);
  expect(parseDuration("90 days")).toBe(90 * 86400);
  expect(parseDuration("1H30M")).toBe(5400);
  for (const bad of ["", "soon", "1x", "h", "-5", "1.5d", "30d junk"]) expect(() => parseDuration(bad)).toThrow("--expires");
});

test("durations print the way they are typed", () => {
  expect(formatDuration(3600)).toBe("1h");
  expect(formatDuration(5400)).toBe("1h30m");
  expect(formatDuration(30 * 86400)).toBe("30d");
  expect(formatDuration(400 * 86400)).toBe("1y35d");
  for (const s of [3600, 5400, 86400 * 7, 86400 * 400 + 61]) expect(parseDuration(formatDuration(s))).toBe(s);
});

test("--endpoint must be a JSON object; it is sent as a string", () => {
  expect(parseEndpoint('{"a": 1}')).toBe('{"a":1}');
  expect(() => parseEndpoint("{a:1}")).toThrow("--endpoint: not JSON");
  expect(() => parseEndpoint('"x"')).toThrow("must be a JSON object");
  expect(() => parseEndpoint("null")).toThrow("must be a JSON object");
});

test("days, integers", () => {
  expect(parseDay("2024-01-31", "--after")).toBe("20240131");
  expect(() => parseDay("31/01/2024", "--after")).toThrow("--after");
  expect(parseInteger("7", "--count", 1, 50)).toBe(7);
  expect(() => parseInteger("51", "--count", 1, 50)).toThrow("--count: must be a whole number from 1 to 50");
});

test("secret endpoint values are masked, nested ones too", () => {
  const e = JSON.stringify({ host: "db", pg_password: "pw", nested: { secret_key: "k", port: 1 }, empty_password: "" });
  expect(JSON.parse(maskEndpoint(e))).toEqual({ host: "db", pg_password: "***", nested: { secret_key: "***", port: 1 }, empty_password: "" });
  expect(maskEndpoint("not json")).toBe("(not JSON)");
  expect(formatBytes(2048)).toBe("2.0 KiB");
});

test("core URLs: the scheme is optional, a trailing slash goes", () => {
  expect(normalizeCore("localhost:8888")).toBe("http://localhost:8888");
  expect(normalizeCore("https://shield.example.com/")).toBe("https://shield.example.com");
  expect(() => normalizeCore("ftp://x")).toThrow("http:// or https://");
});
