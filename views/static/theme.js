// Loaded in <head> without defer, before the page is drawn: it applies the theme
// the reader chose (light, dark; none: the system's, by the stylesheet's
// prefers-color-scheme) so a dark page never flashes white, and marks <html>
// with "js" so the stylesheet folds the navigation into the menu button only
// where this script runs. Then it wires the theme switch and the menu button.
(function () {
  "use strict";
  var KEY = "shield-theme";
  var root = document.documentElement;
  root.classList.add("js");
  function stored() {
    try { var v = localStorage.getItem(KEY); return v === "light" || v === "dark" ? v : "auto"; } catch (e) { return "auto"; }
  }
  function apply(choice) {
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
    // The charts read their colours when drawn: they draw again (charts.js).
    document.dispatchEvent(new CustomEvent("shield:theme"));
  }
  apply(stored());
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    var changed = function () { if (stored() === "auto") apply("auto"); };
    if (mq.addEventListener) mq.addEventListener("change", changed);
  }

  function wire() {
    var select = document.getElementById("theme-select");
    if (select) {
      select.value = stored();
      // Without script it could do nothing: it is shown only now.
      select.closest(".theme").hidden = false;
      select.addEventListener("change", function () {
        try {
          if (select.value === "auto") localStorage.removeItem(KEY);
          else localStorage.setItem(KEY, select.value);
        } catch (e) { /* storage refused: the choice lasts this page */ }
        apply(select.value);
      });
    }
    var button = document.getElementById("menu-toggle");
    var header = button && button.closest("header");
    // The header's menus (<details>: Admin, the signed-in user's) behave like menus:
    // one open at a time, closed by Escape or a click elsewhere.
    var menus = header ? header.querySelectorAll(".header-menu details, details.header-menu") : [];
    function closeMenus(except) {
      for (var i = 0; i < menus.length; i++) if (menus[i] !== except) menus[i].open = false;
    }
    for (var i = 0; i < menus.length; i++) {
      menus[i].addEventListener("toggle", function (e) {
        // Not in the phone's open menu, where every group shows at once.
        if (e.target.open && !(header && header.classList.contains("open"))) closeMenus(e.target);
      });
    }
    document.addEventListener("click", function (e) {
      for (var i = 0; i < menus.length; i++) if (menus[i].open && !menus[i].contains(e.target)) menus[i].open = false;
    });
    if (button && header) {
      button.addEventListener("click", function (e) {
        var open = header.classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
        // On a phone the menu lists everything: its groups open with it.
        for (var i = 0; i < menus.length; i++) menus[i].open = open;
        e.stopPropagation();
      });
    }
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      for (var i = 0; i < menus.length; i++) {
        if (menus[i].open && (!header || !header.classList.contains("open"))) {
          menus[i].open = false;
          menus[i].querySelector("summary").focus();
          return;
        }
      }
      if (header && button && header.classList.contains("open")) {
        header.classList.remove("open");
        button.setAttribute("aria-expanded", "false");
        button.focus();
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
