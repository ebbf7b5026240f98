// Marquee web player: a clock-driven simulated player (or a <video> when the
// title has a media file) that reports progress, resumes where any device
// stopped, and listens to the profile's live events. Served from /static (CSP: 'self').
(function () {
  "use strict";
  var el = document.getElementById("player");
  if (!el) return;
  var headers = {};
  try { headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { headers = {}; }
  var csrf = headers["X-CSRF-Token"] || "";
  var titleId = Number(el.dataset.titleId);
  var profileId = el.dataset.profileId;
  var duration = Number(el.dataset.durationMs);
  var interval = Number(el.dataset.intervalMs) || 5000;
  var nextId = Number(el.dataset.nextId);
  var video = document.getElementById("video");
  var $ = function (id) { return document.getElementById(id); };
  var session = null, deviceId = null, pos = 0, playing = false, lastTick = 0;
  var touched = false, sinceSend = 0, others = {};

  function fmt(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    s = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function status(t) { $("status").textContent = t; }
  function post(path, body, keepalive) {
    return fetch(path, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var j = null; try { j = JSON.parse(t); } catch (e) { j = null; }
        return { status: r.status, body: j };
      });
    });
  }
  function register() {
    // The server names it from the browser ("Chrome on Linux"); the viewer
    // can rename it.
    return post("/api/v1/devices", { kind: "web" }).then(function (r) {
      if (!r.body || !r.body.id) throw new Error("could not register this browser");
      localStorage.setItem("marquee.device." + profileId, String(r.body.id));
      deviceId = r.body.id;
      return deviceId;
    });
  }
  function device() {
    var saved = localStorage.getItem("marquee.device." + profileId);
    if (saved) { deviceId = Number(saved); return Promise.resolve(deviceId); }
    return register();
  }
  function render() {
    $("clock").textContent = fmt(pos) + " / " + fmt(duration);
    $("pause").textContent = playing ? "Pause" : "Play";
  }
  function showOthers() {
    var names = Object.keys(others).map(function (k) { return others[k]; });
    var n = $("also-playing");
    n.hidden = names.length === 0;
    n.textContent = names.length ? "Also playing on " + names.join(", ") : "";
  }
  function send(stop) {
    if (!session) return Promise.resolve();
    var body = { play_session_id: session, position_ms: Math.round(Math.min(pos, duration)), sent_at: Date.now() };
    if (stop) {
      var s = session; session = null;
      return post("/api/v1/playback/stop", { play_session_id: s, position_ms: body.position_ms, sent_at: body.sent_at }, true);
    }
    body.paused = !playing; body.interaction = touched; touched = false;
    var sent = session;
    return post("/api/v1/playback/progress", body).then(function (r) {
      if (session !== sent) return; // stopped meanwhile (here or from another screen)
      if (r.status === 409 || r.status === 404) { session = null; playing = false; status("This stream has ended. Press play to go on."); render(); }
    });
  }
  function start(from, autoplay) {
    return device().then(function () {
      return post("/api/v1/playback/start", { title_id: titleId, device_id: deviceId, autoplay: !!autoplay });
    }).then(function (r) {
      if ((r.status === 403 || r.status === 404) && r.body && r.body.error && !r.body.error.field) {
        localStorage.removeItem("marquee.device." + profileId);
        return register().then(function () { return start(from, autoplay); });
      }
      if (r.status === 409 && r.body && r.body.still_watching) { $("still-watching").hidden = false; status(""); return; }
      if (r.status === 409 && r.body) {
        var list = (r.body.active_streams || []).map(function (s) { return s.title_name + " on " + s.device_name; });
        status(r.body.error.message + (list.length ? ": " + list.join("; ") : ""));
        if (list.length) capDialog(r.body, from, autoplay);
        return;
      }
      if (r.status !== 201) { status((r.body && r.body.error && r.body.error.message) || "could not start"); return; }
      session = r.body.play_session_id;
      pos = from === "resume" ? r.body.resume_position_ms : (from === "moment" ? moment : 0);
      if (video) { try { video.currentTime = pos / 1000; video.play(); } catch (e) { /* metadata not loaded */ } }
      playing = true; lastTick = Date.now(); sinceSend = 0;
      $("pause").hidden = false; $("stop").hidden = false; $("resume").hidden = true;
      $("play-start").hidden = true; $("still-watching").hidden = true;
      status("Playing on this browser");
      render();
      return send(false);
    }).catch(function (e) { status(String(e)); });
  }
  // The stream cap: list the account's streams, each with "Stop playback
  // there"; stopping one starts this one. An upgrade link when a bigger plan exists.
  function capDialog(body, from, autoplay) {
    var dlg = $("cap-dialog"), ul = $("cap-streams");
    if (!dlg) return;
    $("cap-message").textContent = body.error.message;
    $("cap-upgrade").hidden = !body.upgrade_available;
    $("cap-status").textContent = "";
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    body.active_streams.forEach(function (s) {
      var li = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = s.title_name + " on " + s.device_name + " (" + s.profile_name + ")";
      var b = document.createElement("button");
      b.type = "button";
      b.className = "cap-stop";
      b.dataset.sessionId = String(s.play_session_id);
      b.textContent = "Stop playback on " + s.device_name;
      b.addEventListener("click", function () {
        b.disabled = true;
        post("/api/v1/streams/" + s.play_session_id + "/stop", { from_device_id: deviceId }).then(function (r) {
          if (r.status !== 200 && r.status !== 404) {
            b.disabled = false;
            $("cap-status").textContent = (r.body && r.body.error && r.body.error.message) || "Could not stop it";
            return;
          }
          $("cap-status").textContent = "Stopped playback on " + s.device_name + ". Starting here.";
          if (dlg.open && dlg.close) dlg.close(); else dlg.removeAttribute("open");
          return start(from, autoplay);
        });
      });
      li.appendChild(label); li.appendChild(b); ul.appendChild(li);
    });
    if (dlg.showModal && !dlg.open) { try { dlg.showModal(); } catch (e) { dlg.setAttribute("open", ""); } }
    else dlg.setAttribute("open", "");
  }
  if ($("cap-close")) {
    $("cap-close").addEventListener("click", function () {
      var dlg = $("cap-dialog");
      if (dlg.open && dlg.close) dlg.close(); else dlg.removeAttribute("open");
    });
  }
  // Another screen stopped this stream ("Stop playback there").
  function stoppedElsewhere(e) {
    session = null; playing = false;
    if (video) video.pause();
    pos = e.position_ms || pos;
    $("pause").hidden = true; $("stop").hidden = true; $("play-start").hidden = false;
    $("resume").dataset.ms = String(e.resume_ms); $("resume").textContent = "Resume from " + fmt(e.resume_ms);
    $("resume").hidden = e.resume_ms <= 0;
    status("Playback was stopped from " + (e.stopped_by || "another device"));
    render();
  }
  function tick() {
    var now = Date.now(), dt = now - lastTick;
    lastTick = now;
    if (!session || !playing) return;
    if (video) { pos = video.currentTime * 1000; } else { pos = Math.min(duration, pos + dt); }
    sinceSend += dt;
    render();
    if (pos >= duration) {
      playing = false;
      send(true).then(function () {
        status("Finished");
        if (nextId) { window.location.href = "/watch/" + nextId + "?autoplay=1"; }
      });
      return;
    }
    if (sinceSend >= interval) { sinceSend = 0; send(false); }
  }
  $("resume").addEventListener("click", function () { touched = true; start("resume", false); });
  // A shared moment (/watch/ID?t=SECONDS) starts there, once.
  var moment = 0;
  var tParam = new URLSearchParams(location.search).get("t");
  if (tParam && /^[0-9]{1,6}$/.test(tParam)) { moment = parseInt(tParam, 10) * 1000; }
  $("play-start").addEventListener("click", function () {
    touched = true;
    var from = moment > 0 ? "moment" : "start";
    start(from, false).then(function () { moment = 0; $("play-start").textContent = "Play from start"; });
  });
  // The clock shows where a shared moment starts, before it plays.
  if (moment > 0) { $("play-start").textContent = "Play from " + fmt(moment); pos = moment; render(); }
  $("still-yes").addEventListener("click", function () { touched = true; start("resume", false); });
  $("pause").addEventListener("click", function () {
    touched = true; playing = !playing; lastTick = Date.now();
    if (video) { if (playing) video.play(); else video.pause(); }
    render(); send(false);
  });
  $("stop").addEventListener("click", function () {
    playing = false;
    if (video) video.pause();
    send(true).then(function () {
      status("Stopped at " + fmt(pos));
      $("pause").hidden = true; $("stop").hidden = true; $("play-start").hidden = false;
      $("resume").dataset.ms = String(pos); $("resume").textContent = "Resume from " + fmt(pos); $("resume").hidden = pos <= 0;
    });
  });
  window.addEventListener("pagehide", function () { if (session) send(true); });
  // Stream errors reach the support agents' context panel.
  if (video) {
    video.addEventListener("error", function () {
      var codes = { 1: "MEDIA_ERR_ABORTED", 2: "MEDIA_ERR_NETWORK", 3: "MEDIA_ERR_DECODE", 4: "MEDIA_ERR_SRC_NOT_SUPPORTED" };
      var err = video.error || {};
      post("/api/v1/playback/errors", {
        code: codes[err.code] || "MEDIA_ERR_UNKNOWN", message: String(err.message || "").slice(0, 500),
        title_id: titleId, device_id: deviceId, position_ms: Math.round(pos)
      });
    });
  }
  setInterval(tick, 250);
  render();

  if (window.EventSource) {
    device().then(function () {
      var es = new EventSource("/api/v1/events");
      es.addEventListener("streams", function (m) {
        others = {};
        JSON.parse(m.data).forEach(function (s) { if (s.device_id !== deviceId) others[s.device_id] = s.device_name; });
        showOthers();
      });
      es.addEventListener("playback", function (m) {
        var e = JSON.parse(m.data);
        if (e.kind === "remote_stop" && e.device_id === deviceId) {
          if (session && e.play_session_id === session) stoppedElsewhere(e);
          return;
        }
        if (e.device_id === deviceId) return;
        if (e.kind === "stop" || e.kind === "remote_stop") { delete others[e.device_id]; } else { others[e.device_id] = e.device_name; }
        showOthers();
        if (e.title_id === titleId && !session) {
          var at = (e.kind === "stop" || e.kind === "remote_stop") ? e.resume_ms : e.position_ms;
          var b = $("resume");
          b.dataset.ms = String(at);
          b.textContent = "Resume from " + fmt(at);
          b.hidden = at <= 0;
          $("play-start").textContent = at > 0 ? "Play from start" : "Play";
        }
      });
    });
  }
  if (el.dataset.autoplay === "1") { start("resume", true); }
  // Play on the title page: one click, playing where this profile stopped
  // (or at a shared moment), not a second Play button here.
  else if (el.dataset.play === "1") {
    touched = true;
    start(moment > 0 ? "moment" : "resume", false).then(function () { moment = 0; });
  }
})();
