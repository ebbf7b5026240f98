// Live dashboard: server-sent events trigger an htmx refresh of the
// server-rendered panel (at most once a second). No markup is built here.
(function () {
  var live = document.getElementById("live");
  var dot = document.getElementById("live-status");
  if (!live || !window.EventSource) return;
  var es = new EventSource("/listening/stream");
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
  es.addEventListener("posts", refresh);
  es.addEventListener("alert", function (e) {
    refresh();
    var banner = document.getElementById("alert-banner");
    try {
      var d = JSON.parse(e.data);
      if (banner && d.alert && d.alert.status === "open") {
        banner.textContent = "New alert #" + d.alert.id + ": " + d.alert.series + " " + d.alert.kind + " over " + d.alert.window;
        banner.hidden = false;
      }
    } catch (_) {}
  });
})();
