// The site's small behaviours, loaded in the head of every page:
// - the menu on phones, hidden behind the Menu button (CSS hides it only
//   once this script has marked the page, so without JavaScript it shows);
// - Copy buttons (`<button data-copy="#id">`: copies that element's value
//   or text, and says so);
// - the onboarding picker's live "2 of 3 picked" counter;
// - tables that scroll sideways get a tab stop (keyboard users can scroll);
// - the perk rule builder shows only the controls its trigger and perk use
//   (`data-show-trigger`, `data-show-effect`; all show without JavaScript);
// - the home page's card menu: one "⋯" button per card opens the page's
//   single menu (thumbs, hide), which posts to /home/feedback/{id} and
//   takes the card away;
// - confirmations before an action that cannot be undone: a form with
//   `data-confirm="question"` (and `data-confirm-button="Delete"`) asks in
//   the page's one <dialog> first; without JavaScript it simply submits.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("menu-button");
  var menu = document.getElementById("site-menu");
  function set(open) {
    menu.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  if (button && menu) {
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && menu.classList.contains("open")) {
        set(false);
        button.focus();
      }
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (!b) return;
    e.preventDefault();
    var src = document.querySelector(b.getAttribute("data-copy"));
    if (!src) return;
    var text = "value" in src && src.value !== undefined ? src.value : src.textContent;
    var done = function () {
      var was = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = was; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else if (src.select) {
      src.select();
      try { document.execCommand("copy"); done(); } catch (err) { /* select stays for a manual copy */ }
    }
  });

  // A table wider than its box scrolls inside itself (app.css); keyboard
  // users reach it through a tab stop, given only to those that scroll.
  var scrollables = function (root) {
    (root || document).querySelectorAll("table, .table-scroll").forEach(function (t) {
      var scrolls = t.scrollWidth > t.clientWidth + 1 && getComputedStyle(t).overflowX !== "visible";
      if (scrolls && !t.hasAttribute("tabindex")) {
        t.setAttribute("tabindex", "0");
        t.classList.add("scrolls");
      }
    });
  };
  scrollables();
  document.body.addEventListener("htmx:afterSettle", function (e) { scrollables(e.target); });
  window.addEventListener("resize", function () { scrollables(); });

  var builder = document.getElementById("rule-builder");
  if (builder) {
    var relevant = function () {
      var t = builder.elements["trigger"] ? builder.elements["trigger"].value : "";
      var e = builder.elements["effect"] ? builder.elements["effect"].value : "";
      builder.querySelectorAll("[data-show-trigger]").forEach(function (el) {
        el.hidden = el.getAttribute("data-show-trigger") !== t;
      });
      builder.querySelectorAll("[data-show-effect]").forEach(function (el) {
        el.hidden = el.getAttribute("data-show-effect") !== e;
      });
    };
    builder.addEventListener("change", relevant);
    relevant();
  }

  var picks = document.getElementById("onboarding-form");
  var count = document.getElementById("picked-n");
  if (picks && count) {
    var update = function () {
      var n = picks.querySelectorAll("input[name=title_id]:checked").length;
      count.textContent = String(n);
      picks.classList.toggle("enough", n >= 3);
    };
    picks.addEventListener("change", update);
    update();
  }

  var cardMenu = document.getElementById("card-menu");
  if (cardMenu) {
    var opener = null;
    var close = function () {
      cardMenu.hidden = true;
      if (opener) opener.setAttribute("aria-expanded", "false");
    };
    document.addEventListener("click", function (e) {
      var t = e.target.closest ? e.target : null;
      if (!t) return;
      var more = t.closest("[data-card-menu]");
      if (more) {
        e.preventDefault();
        if (!cardMenu.hidden && opener === more) { close(); return; }
        opener = more;
        cardMenu.dataset.id = more.getAttribute("data-card-menu");
        var r = more.getBoundingClientRect();
        cardMenu.hidden = false;
        var left = Math.min(r.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - cardMenu.offsetWidth - 8);
        cardMenu.style.left = Math.max(8, left) + "px";
        cardMenu.style.top = (r.bottom + window.scrollY + 4) + "px";
        more.setAttribute("aria-expanded", "true");
        var first = cardMenu.querySelector("button");
        if (first) first.focus();
        return;
      }
      var item = t.closest("#card-menu [data-action]");
      if (item) {
        var id = cardMenu.dataset.id;
        var csrf = "";
        try { csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; } catch (err) { /* none */ }
        var body = "csrf=" + encodeURIComponent(csrf) + "&action=" + encodeURIComponent(item.getAttribute("data-action"));
        fetch("/home/feedback/" + encodeURIComponent(id), {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true" },
          body: body
        }).then(function (r) {
          if (!r.ok) return;
          document.querySelectorAll('.rec-card[data-title-id="' + id + '"]').forEach(function (c) { c.remove(); });
        });
        close();
        return;
      }
      if (!cardMenu.hidden && !t.closest("#card-menu")) close();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !cardMenu.hidden) {
        close();
        if (opener) opener.focus();
      }
    });
  }
});

// Confirm before destructive forms (data-confirm), in the page's dialog.
document.addEventListener("submit", function (e) {
  var form = e.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  var dialog = document.getElementById("confirm-dialog");
  if (!question || !dialog || !dialog.showModal || form.getAttribute("data-confirmed")) return;
  e.preventDefault();
  var submitter = e.submitter || null;
  document.getElementById("confirm-text").textContent = question;
  document.getElementById("confirm-ok").textContent = form.getAttribute("data-confirm-button") || "Yes";
  dialog.returnValue = "";
  dialog.onclose = function () {
    dialog.onclose = null;
    if (dialog.returnValue !== "ok") return;
    form.setAttribute("data-confirmed", "1");
    if (form.requestSubmit && submitter) form.requestSubmit(submitter);
    else if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  };
  dialog.showModal();
  document.getElementById("confirm-cancel").focus();
}, true);
