// WCAG AA contrast of the web UI's colours, in both themes, computed from the
// custom properties of views/static/shield.css and charts.css (the only place
// colours are set): text at least 4.5:1 on each background it is drawn on, and
// borders of controls and chart marks at least 3:1 (non-text contrast).
// The dark theme is written twice (chosen, and the system's choice): both copies must agree.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { contrast } from "../helpers/contrast.ts";

const read = (name: string) => readFileSync(resolve(import.meta.dir, "../../views/static", name), "utf8");
const css = read("shield.css");
const chartsCss = read("charts.css");

/** The custom properties of the first rule whose selector is exactly `selector`. */
function varsOf(source: string, selector: string): Record<string, string> {
  const at = source.indexOf(`${selector} {`);
  if (at < 0) throw new Error(`no rule ${selector}`);
  const body = source.slice(source.indexOf("{", at) + 1, source.indexOf("}", at));
  return Object.fromEntries([...body.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
}

// [foreground, background]: text drawn in that colour on that background somewhere in the UI.
const TEXT: [string, string][] = [
  ["--fg", "--bg"], ["--fg", "--card"], ["--fg", "--input-bg"],
  ["--muted", "--bg"], ["--muted", "--card"],
  ["--accent", "--bg"], ["--accent", "--card"], ["--accent-fg", "--accent"],
  ["--danger", "--bg"], ["--danger", "--card"], ["--danger-fg", "--danger"],
  ["--ok", "--bg"], ["--ok", "--card"], ["--warn", "--card"],
  ["--header-fg", "--header-bg"], ["--header-link", "--header-bg"], ["--header-muted", "--header-bg"],
  ["--log-fg", "--log-bg"], ["--log-time", "--log-bg"],
  ["--fg", "--flash-ok"], ["--fg", "--flash-error"], ["--fg", "--flash-pending"], ["--fg", "--flash-note"],
  ["--accent", "--flash-ok"], ["--accent", "--flash-error"], ["--accent", "--flash-pending"], ["--accent", "--flash-note"],
  ["--danger", "--flash-error"],
  ["--chart-text", "--card"],
];
// Non-text: the edge of an input, chart lines and bars, the outcome strip.
const GRAPHICS: [string, string][] = [
  ["--input-line", "--input-bg"], ["--header-line", "--header-bg"],
  ...[1, 2, 3, 4, 5, 6].map((i): [string, string] => [`--chart-${i}`, "--card"]),
  ["--outcome-done", "--card"], ["--outcome-failed", "--card"], ["--outcome-canceled", "--card"],
];

const light = { ...varsOf(css, ":root"), ...varsOf(chartsCss, ":root") };
const dark = { ...light, ...varsOf(css, ':root[data-theme="dark"]'), ...varsOf(chartsCss, ':root[data-theme="dark"]') };

describe.each([["light", light], ["dark", dark]] as const)("the %s theme", (_, vars) => {
  const ratio = (f: string, b: string) => {
    expect(vars[f], f).toBeDefined();
    expect(vars[b], b).toBeDefined();
    return contrast(vars[f]!, vars[b]!);
  };
  test.each(TEXT)("text %s on %s is at least 4.5:1", (f, b) => {
    expect(ratio(f, b)).toBeGreaterThanOrEqual(4.5);
  });
  test.each(GRAPHICS)("%s on %s is at least 3:1", (f, b) => {
    expect(ratio(f, b)).toBeGreaterThanOrEqual(3);
  });
});

test("the dark theme chosen and the dark theme of the system are the same colours", () => {
  for (const source of [css, chartsCss]) {
    const chosen = varsOf(source, ':root[data-theme="dark"]');
    const system = varsOf(source.slice(source.indexOf("@media (prefers-color-scheme: dark)")), ':root:not([data-theme="light"])');
    expect(Object.keys(chosen).length).toBeGreaterThan(5);
    expect(system).toEqual(chosen);
  }
});

test("the ratio is WCAG's: black on white is 21:1, the old header role label 2.7:1", () => {
  expect(contrast("#000", "#fff")).toBeCloseTo(21, 5);
  expect(contrast("#5b6573", "#18212e")).toBeCloseTo(2.7, 1);
});
