// Shield's only script of its own (htmx does the rest). It shows times in the
// reader's zone: the server writes <time datetime="...Z" title="... UTC">, the
// title keeps the absolute UTC time on hover, and this rewrites the text.
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  // Log lines (data-format="time"): the time of day only, a 24-hour clock so the
  // column keeps its width; the zone is said once, above the log ([data-zone]).
  var timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  var zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(new Date())
    .filter(function (p) { return p.type === "timeZoneName"; }).map(function (p) { return p.value; })[0] || "";
  function localize(root) {
    var scope = root || document;
    var times = scope.querySelectorAll("time[datetime]:not([data-local])");
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      t.textContent = t.getAttribute("data-format") === "time" ? timeOfDay.format(d) : fmt.format(d);
      t.setAttribute("data-local", "");
    }
    var notes = scope.querySelectorAll("[data-zone]");
    for (var j = 0; j < notes.length; j++) notes[j].textContent = "Times in your zone (" + zone + "); UTC on hover.";
  }
  // htmx.onLoad runs for the page and again for every fragment htmx swaps in.
  if (window.htmx) window.htmx.onLoad(localize);
  else document.addEventListener("DOMContentLoaded", function () { localize(document); });
})();
// Copy buttons (a new API token): <button data-copy="ID"> copies the value of the
// input with that id. The clipboard API needs a secure context (https or
// localhost); elsewhere the text is selected for the reader to copy.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var button = e.target instanceof Element ? e.target.closest("button[data-copy]") : null;
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.focus();
    input.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, function () {});
    else {
      try { if (document.execCommand("copy")) done(); } catch (err) { /* selected: the reader copies it */ }
    }
  });
})();
