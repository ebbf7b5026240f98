// Consultation dashboard: server-sent events trigger an htmx refresh of the
// server-rendered panel (at most once a second). No markup is built here.
(function () {
  var live = document.getElementById("live");
  var dot = document.getElementById("live-status");
  if (!live || !window.EventSource) return;
  var id = live.getAttribute("data-proposal");
  var es = new EventSource("/staff/changes/" + encodeURIComponent(id) + "/stream");
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
  ["reaction", "comment", "status", "posts"].forEach(function (k) { es.addEventListener(k, refresh); });
})();
