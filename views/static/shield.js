// Shield's only script of its own (htmx does the rest). It shows times in the
// reader's zone: the server writes <time datetime="...Z" title="... UTC">, the
// title keeps the absolute UTC time on hover, and this rewrites the text.
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  function localize(root) {
    var times = (root || document).querySelectorAll("time[datetime]:not([data-local])");
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      t.textContent = fmt.format(d);
      t.setAttribute("data-local", "");
    }
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
