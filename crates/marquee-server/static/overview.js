// Stakeholder overview: server-sent events ask htmx to refresh the
// server-rendered panel (at most once a second). No markup is built here.
(function () {
  var live = document.getElementById("overview");
  var dot = document.getElementById("live-status");
  if (!live || !window.EventSource) return;
  var es = new EventSource("/staff/stream");
  var pending = false;
  function refresh() {
    if (pending) return;
    pending = true;
    setTimeout(function () {
      pending = false;
      if (window.htmx) window.htmx.trigger(live, "refresh");
    }, 1000);
  }
  es.onopen = function () { if (dot) dot.className = "live-dot on"; };
  es.onerror = function () { if (dot) dot.className = "live-dot"; };
  es.addEventListener("perk", refresh);
  es.addEventListener("listening", refresh);
  es.addEventListener("tick", refresh);
})();
