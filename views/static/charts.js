// Draws the charts a page carries: each .chart-plot holds its figures in
// data-chart (see views/charts.tsx); uPlot (embedded, served by hash) draws them.
// The figures and their text alternative are in the page already, so a page
// without script, or a screen reader, loses nothing. Colours come from CSS
// custom properties (--chart-1...), so the stylesheet decides them, dark mode too.
(function () {
  "use strict";
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function bytes(n) {
    if (n === null || n === undefined) return "—";
    var v = Math.abs(n), i = 0;
    while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    return (n < 0 ? "−" : "") + (i === 0 ? v + " B" : v.toFixed(v < 10 ? 1 : 0) + " " + UNITS[i]);
  }
  function seconds(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + Math.round(s % 60) + " s" : "");
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  var BYTE_STEPS = [];
  for (var k = 0; k < 6; k++) for (var m = 1; m < 1024; m *= 2) BYTE_STEPS.push(m * Math.pow(1024, k));
  var FORMAT = {
    bytes: bytes, seconds: seconds,
    percent: function (p) { return p === null || p === undefined ? "—" : Math.round(p) + " %"; },
  };

  function cssVar(el, name, fallback) {
    var v = getComputedStyle(el).getPropertyValue(name).trim();
    return v || fallback;
  }

  function options(el, spec, width) {
    var fmt = FORMAT[spec.unit] || String;
    var text = cssVar(el, "--chart-text", "#5b6573");
    var grid = cssVar(el, "--chart-grid", "#e3e7ec");
    var series = [{}];
    spec.series.forEach(function (s, i) {
      // Shares: success and failure, in the colours the outcome strip uses.
      var colour = s.outcome ? cssVar(el, "--outcome-" + s.outcome, s.outcome === "done" ? "#1e7a3c" : "#b3261e")
        : cssVar(el, "--chart-" + (i % 6 + 1), "#1f5fbf");
      // The key and the cursor read the series' own figures, not the stacked tops drawn.
      var one = { label: s.label, stroke: colour, width: 2, value: function (u, v, si, idx) { return fmt(idx == null ? v : s.values[idx]); } };
      if (spec.kind !== "line") {
        one.fill = colour;
        one.paths = uPlot.paths.bars({ size: [0.7, 24] });
        one.points = { show: false };
      } else {
        one.points = { show: true, size: 6, fill: colour };
        one.spanGaps = true;
      }
      series.push(one);
    });
    var y = { stroke: text, grid: { stroke: grid }, ticks: { stroke: grid }, size: 72,
      values: function (u, vals) { return vals.map(fmt); } };
    // Bytes tick at round binary sizes (512 KiB, 1 MiB), not at 977 KiB.
    if (spec.unit === "bytes") y.incrs = BYTE_STEPS;
    // Whole seconds, minutes and hours: never "0.2 s" shown as "0 s" twice.
    if (spec.unit === "seconds") y.incrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
    var scales = { x: { time: true } };
    if (spec.unit === "percent") scales.y = { range: [0, 100] };
    else scales.y = { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } };
    if (spec.kind !== "line" && spec.x.length) {
      // Half a day each side, so the first and last bars are whole.
      var lo = spec.x[0] - 43200, hi = spec.x[spec.x.length - 1] + 43200;
      scales.x.range = function () { return [lo, hi]; };
    } else if (spec.x.length) {
      // Lines: runs all in one minute (a new job) would give an empty range, which uPlot
      // widens by years; an hour each side keeps the axis in the runs' own days.
      var first = spec.x[0], last = spec.x[spec.x.length - 1];
      if (last - first < 3600) scales.x.range = function () { return [first - 3600, last + 3600]; };
    }
    return {
      width: width, height: width < 480 ? 180 : 220,
      series: series, scales: scales,
      axes: [{ stroke: text, grid: { stroke: grid }, ticks: { stroke: grid } }, y],
      // A key only where there is more than one series (stores); the figures are in the table below.
      legend: { show: spec.series.length > 1 },
      cursor: { drag: { x: false, y: false } },
    };
  }

  function draw(el) {
    if (el.getAttribute("data-drawn") || !window.uPlot) return;
    var spec;
    try { spec = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    el.setAttribute("data-drawn", "");
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    if (spec.kind === "shares") {
      // Stacked: each series is drawn from 0 to the sum of it and those below it,
      // the higher sums first (uPlot draws in order), so each shows as its band.
      var sums = spec.series.map(function (s, i) {
        return spec.x.map(function (_, j) {
          var t = null;
          for (var k = 0; k <= i; k++) { var v = spec.series[k].values[j]; if (v !== null) t = (t || 0) + v; }
          return t;
        });
      });
      // Shares are of outcomes: the first succeeded, the rest failed.
      spec.series.forEach(function (s, i) { s.outcome = i === 0 ? "done" : "failed"; });
      spec = { kind: spec.kind, unit: spec.unit, x: spec.x, series: spec.series.slice().reverse() };
      data = [spec.x].concat(sums.reverse());
    }
    var width = Math.max(200, el.clientWidth);
    var plot = new uPlot(options(el, spec, width), data, el);
    // Follows the page's width (a phone turned, a window resized).
    var watch = null;
    if (window.ResizeObserver) {
      watch = new ResizeObserver(function () {
        var w = Math.max(200, el.clientWidth);
        if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: w < 480 ? 180 : 220 });
      });
      watch.observe(el);
    }
    drawn.push({ el: el, plot: plot, watch: watch });
  }

  // The colours are read when a chart is drawn: a new theme (theme.js) draws them again.
  var drawn = [];
  document.addEventListener("shield:theme", function () {
    var old = drawn;
    drawn = [];
    old.forEach(function (d) {
      if (d.watch) d.watch.disconnect();
      d.plot.destroy();
      d.el.removeAttribute("data-drawn");
      if (document.contains(d.el)) draw(d.el);
    });
  });

  function drawAll(root) {
    var els = (root || document).querySelectorAll(".chart-plot[data-chart]");
    for (var i = 0; i < els.length; i++) draw(els[i]);
  }
  if (window.htmx) window.htmx.onLoad(drawAll);
  else document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
})();
