// Social listening: the live panel itself is refreshed by live.js; this
// shows a banner when an alert arrives. No markup is built here.
(function () {
  var live = document.getElementById("live");
  if (!live) return;
  live.addEventListener("live:alert", function (e) {
    var banner = document.getElementById("alert-banner");
    try {
      var d = JSON.parse(e.detail);
      if (banner && d.headline && d.status === "open") {
        banner.textContent = "New alert: " + d.headline;
        banner.hidden = false;
      }
    } catch (_) {}
  });
})();
