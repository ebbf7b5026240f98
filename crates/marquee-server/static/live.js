// Live panels. An element with data-live-stream (a server-sent events URL)
// and data-live-events (the event names that change it) is refreshed by
// htmx (its hx-trigger "refresh") when one of them arrives, at most once a
// second; the dot #live-status shows whether the stream is connected. Each
// event is also dispatched on the panel as "live:<name>" (detail: its data)
// for a page's own script. No markup is built here.
(function () {
  if (!window.EventSource) return;
  var dot = document.getElementById("live-status");
  document.querySelectorAll("[data-live-stream]").forEach(function (panel) {
    var es = new EventSource(panel.getAttribute("data-live-stream"));
    var pending = false;
    function refresh() {
      if (pending) return;
      pending = true;
      setTimeout(function () {
        pending = false;
        if (window.htmx) window.htmx.trigger(panel, "refresh");
      }, 1000);
    }
    es.onopen = function () { if (dot) dot.className = "live-dot on"; };
    es.onerror = function () { if (dot) dot.className = "live-dot"; };
    (panel.getAttribute("data-live-events") || "").split(/\s+/).forEach(function (name) {
      if (!name) return;
      es.addEventListener(name, function (e) {
        refresh();
        panel.dispatchEvent(new CustomEvent("live:" + name, { detail: e.data }));
      });
    });
  });
})();
