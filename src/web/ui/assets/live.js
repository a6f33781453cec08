// claimdesk live feed (issue 12): keeps open pages current without a reload. Every page works
// without this file. Server-Sent Events from /events (EventSource reconnects by itself):
// - a list page (<main data-live="list">) re-fetches its own URL and swaps its table rows,
//   keeping the focused row's control focused, and announces new rows (aria-live);
// - a ticket page (<main data-live="ticket" data-ticket="…">) re-fetches itself when that
//   ticket changed and swaps its parts (direct children of <main> with an id), except a part
//   holding the focus or a form being filled in;
// - "resync" (events may have been missed) and a reconnect re-fetch in any case.
"use strict";
(function () {
  var WORDS = {/*WORDS*/};
  var main = document.getElementById("main");
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var kind = main.getAttribute("data-live");
  if (kind !== "list" && kind !== "ticket") return;
  var mine = main.getAttribute("data-ticket");

  var region = document.createElement("div");
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  region.id = "live-status";
  var s = region.style; // CSSOM, allowed by the CSP (no inline style attribute)
  s.position = "absolute"; s.width = "1px"; s.height = "1px"; s.overflow = "hidden";
  s.clip = "rect(0 0 0 0)"; s.whiteSpace = "nowrap";
  document.body.appendChild(region);
  function say(text) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }

  var timer = null, busy = false, again = false;
  function soon() { if (!timer) timer = window.setTimeout(refresh, 100); }
  function refresh() {
    timer = null;
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Claimdesk-Live": "1" } })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (fresh) { if (kind === "list") swapList(fresh); else swapTicket(fresh); }
      })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () { busy = false; if (again) { again = false; soon(); } });
  }

  function numbers(root) {
    var seen = {};
    root.querySelectorAll("tr[data-ticket]").forEach(function (tr) { seen[tr.getAttribute("data-ticket")] = true; });
    return seen;
  }

  // Where the focus is, as (row number, index among the row's focusable controls).
  function focusInRow() {
    var a = document.activeElement;
    var tr = a && a.closest ? a.closest("tr[data-ticket]") : null;
    if (!tr || !main.contains(tr)) return null;
    var controls = tr.querySelectorAll("a[href], button, input, select, textarea");
    return { ticket: tr.getAttribute("data-ticket"), index: Array.prototype.indexOf.call(controls, a) };
  }
  function restoreFocus(f) {
    if (!f) return;
    var rows = main.querySelectorAll("tr[data-ticket]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-ticket") === f.ticket) {
        var c = rows[i].querySelectorAll("a[href], button, input, select, textarea")[Math.max(f.index, 0)];
        if (c) { c.focus({ preventScroll: true }); return; }
      }
    }
    main.focus({ preventScroll: true }); // the row left the list
  }

  function swapList(fresh) {
    var before = numbers(main);
    var focus = focusInRow();
    var x = window.scrollX, y = window.scrollY;
    var oldBodies = main.querySelectorAll("tbody"), newBodies = fresh.querySelectorAll("tbody");
    if (oldBodies.length === newBodies.length && oldBodies.length > 0) {
      for (var i = 0; i < oldBodies.length; i++) {
        oldBodies[i].replaceWith(document.importNode(newBodies[i], true));
      }
    } else {
      // The list became empty or stopped being empty: the whole content changes.
      var flash = document.getElementById("flash");
      main.innerHTML = fresh.innerHTML;
      var newFlash = document.getElementById("flash");
      if (flash && newFlash) newFlash.replaceWith(flash);
    }
    restoreFocus(focus);
    window.scrollTo(x, y);
    var added = 0, after = numbers(main);
    for (var n in after) if (!before[n]) added++;
    say(added === 1 ? WORDS.new_one : added > 1 ? WORDS.new_many.replace("{n}", added) : WORDS.updated);
  }

  function editing(el) {
    if (el.contains(document.activeElement) && document.activeElement !== main) return true;
    var fields = el.querySelectorAll("textarea, input:not([type=hidden]), select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) if (f.options[j].selected !== f.options[j].defaultSelected) return true;
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.value !== f.defaultValue) return true;
    }
    return false;
  }

  function swapTicket(fresh) {
    var x = window.scrollX, y = window.scrollY;
    var changed = false;
    Array.prototype.forEach.call(fresh.children, function (part) {
      if (!part.id || part.id === "flash") return;
      var old = document.getElementById(part.id);
      if (!old || old.parentNode !== main || editing(old)) return;
      if (old.innerHTML !== part.innerHTML) { old.replaceWith(document.importNode(part, true)); changed = true; }
    });
    window.scrollTo(x, y);
    if (changed) say(WORDS.ticket_updated);
  }

  var source = new EventSource("/events");
  var lost = false;
  source.addEventListener("ticket", function (e) {
    if (kind === "list" || e.data === mine) soon();
  });
  source.addEventListener("resync", soon);
  source.addEventListener("error", function () { lost = true; });
  source.addEventListener("open", function () { if (lost) { lost = false; soon(); } });
})();
