// Marquee web player: a real <video> (direct play, or HLS natively or
// through hls.js) with its own controls, or a clock-driven simulated player
// for titles without media. It reports progress from the real currentTime,
// resumes where any device stopped, counts down to the next episode, and
// listens to the profile's live events. Served from /static (CSP: 'self').
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
  var touched = false, sinceSend = 0, others = {}, starting = false;

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
  // The real position and length when there is a video.
  function videoMs() { return video && isFinite(video.currentTime) ? video.currentTime * 1000 : pos; }
  function render() {
    $("clock").textContent = fmt(pos) + " / " + fmt(duration);
    $("pause").textContent = playing ? "Pause" : "Play";
    if (video) renderBar();
  }
  function showOthers() {
    // "Also playing on Living-room TV: Pilot at 20:34", moving on between
    // the other screen's reports unless it is paused.
    var now = Date.now();
    var names = Object.keys(others).map(function (k) {
      var o = others[k];
      if (!o.title) return o.name;
      return o.name + ": " + o.title + " at " + fmt(o.pos + (o.paused ? 0 : Math.max(0, now - o.at)));
    });
    var n = $("also-playing");
    n.hidden = names.length === 0;
    var text = names.length ? "Also playing on " + names.join("; ") : "";
    if (n.textContent !== text) n.textContent = text;
  }
  function send(stop) {
    if (!session) return Promise.resolve();
    if (video) pos = videoMs();
    var body = { play_session_id: session, position_ms: Math.round(Math.min(pos, duration)), sent_at: Date.now() };
    if (stop) {
      var s = session; session = null;
      return post("/api/v1/playback/stop", { play_session_id: s, position_ms: body.position_ms, sent_at: body.sent_at }, true);
    }
    body.paused = !playing; body.interaction = touched; touched = false;
    var sent = session;
    return post("/api/v1/playback/progress", body).then(function (r) {
      if (session !== sent) return; // stopped meanwhile (here or from another screen)
      if (r.status === 409 || r.status === 404) {
        session = null; playing = false;
        if (video) video.pause();
        status("This stream has ended. Press play to go on."); render();
      }
    });
  }
  // Plays the video; a browser that blocks sound without a click (an
  // autoplayed next episode) gets it muted, and the viewer is told.
  function playVideo() {
    var p = video.play();
    if (!p || !p.catch) return;
    p.catch(function (e) {
      if (!e || e.name !== "NotAllowedError" || video.muted) return;
      video.muted = true;
      video.play().then(function () {
        status("Playing without sound: this browser needs a click first. Press the speaker button (or M) for sound.");
      }).catch(function () {
        playing = false; render(); status("Press Play to start.");
      });
    });
  }
  function start(from, autoplay) {
    if (starting) return Promise.resolve();
    starting = true;
    return device().then(function () {
      return post("/api/v1/playback/start", { title_id: titleId, device_id: deviceId, autoplay: !!autoplay });
    }).then(function (r) {
      if ((r.status === 403 || r.status === 404) && r.body && r.body.error && !r.body.error.field) {
        localStorage.removeItem("marquee.device." + profileId);
        starting = false;
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
      if (from === "here") pos = videoMs();
      else pos = from === "resume" ? r.body.resume_position_ms : (from === "moment" ? moment : 0);
      // A resume point at the very end of the real media (the catalog's
      // runtime can be longer than the file) starts it over.
      if (video && from !== "here" && isFinite(video.duration) && video.duration > 0 &&
          pos >= Math.min(video.duration * 950, video.duration * 1000 - 2000)) pos = 0;
      seekBefore = false;
      playing = true; lastTick = Date.now(); sinceSend = 0;
      if (video) { seekTo(pos / 1000); playVideo(); }
      // A real video pauses from its own control bar (and k/space); the
      // row's Pause is the simulated player's.
      $("pause").hidden = !!video; $("stop").hidden = false; $("resume").hidden = true;
      $("play-start").hidden = true; $("still-watching").hidden = true;
      hideNext();
      status("Playing on this browser");
      render();
      return send(false);
    }).catch(function (e) { status(String(e)); }).then(function (v) { starting = false; return v; });
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
  // The end: stop the stream, then count down to the next episode.
  function finished() {

    playing = false;
    send(true).then(function () {
      status("Finished");
      $("pause").hidden = true; $("stop").hidden = true; $("play-start").hidden = false;
      $("play-start").textContent = "Play from start";
      render();
      if (nextId) countdown();
    });
  }
  var nextTimer = null;
  function hideNext() {
    if (nextTimer) { clearInterval(nextTimer); nextTimer = null; }
    $("next-overlay").hidden = true;
  }
  function goNext() { hideNext(); window.location.href = "/watch/" + nextId + "?autoplay=1"; }
  function countdown() {
    var left = 10;
    var label = $("next-count");
    label.textContent = "Next episode in " + left + " s";
    $("next-overlay").hidden = false;
    if (nextTimer) clearInterval(nextTimer);
    nextTimer = setInterval(function () {
      left -= 1;
      if (left <= 0) { goNext(); return; }
      label.textContent = "Next episode in " + left + " s";
    }, 1000);
    $("next-now").focus();
  }
  $("next-now").addEventListener("click", goNext);
  $("next-cancel").addEventListener("click", function () { hideNext(); status("Finished. The next episode waits for you."); });

  var shownAt = 0;
  function tick() {
    var now = Date.now(), dt = now - lastTick;
    lastTick = now;
    if (now - shownAt >= 1000 && Object.keys(others).length) { shownAt = now; showOthers(); }
    if (video) renderBar();
    if (!session || !playing) return;
    if (video) { pos = videoMs(); } else { pos = Math.min(duration, pos + dt); }
    sinceSend += dt;
    render();
    // A video ends with its "ended" event (its real length may differ from
    // the catalog's runtime); the simulated one at the runtime.
    if (!video && pos >= duration) { finished(); return; }
    if (sinceSend >= interval) { sinceSend = 0; send(false); }
  }
  // A shared moment (/watch/ID?t=SECONDS) starts there, once.
  var moment = 0, seekBefore = false;
  var tParam = new URLSearchParams(location.search).get("t");
  if (tParam && /^[0-9]{1,6}$/.test(tParam)) { moment = parseInt(tParam, 10) * 1000; }
  // What Play does with no stream yet: where the viewer scrubbed to, else
  // resume (when offered), else the shared moment or the start.
  function startDefault() {
    touched = true;
    if (seekBefore) return start("here", false);
    if (!$("resume").hidden) return start("resume", false);
    return start(moment > 0 ? "moment" : "start", false).then(function () { moment = 0; });
  }
  function togglePause() {
    touched = true; playing = !playing; lastTick = Date.now();
    if (video) { if (playing) playVideo(); else video.pause(); }
    render(); send(false);
  }
  function playPause() {
    if (!session) { startDefault(); return; }
    togglePause();
  }
  $("resume").addEventListener("click", function () { touched = true; start("resume", false); });
  $("play-start").addEventListener("click", function () {
    touched = true;
    var from = moment > 0 ? "moment" : "start";
    start(from, false).then(function () { moment = 0; $("play-start").textContent = "Play from start"; });
  });
  // The clock shows where a shared moment starts, before it plays.
  if (moment > 0) {
    $("play-start").textContent = "Play from " + fmt(moment); pos = moment;
    if (video) seekTo(moment / 1000);
    render();
  }
  $("still-yes").addEventListener("click", function () { touched = true; start("resume", false); });
  $("pause").addEventListener("click", togglePause);
  $("stop").addEventListener("click", function () {
    playing = false;
    if (video) { video.pause(); pos = videoMs(); }
    send(true).then(function () {
      status("Stopped at " + fmt(pos));
      $("pause").hidden = true; $("stop").hidden = true; $("play-start").hidden = false;
      $("resume").dataset.ms = String(pos); $("resume").textContent = "Resume from " + fmt(pos); $("resume").hidden = pos <= 0;
      render();
    });
  });
  window.addEventListener("pagehide", function () { if (session) send(true); });

  // ---- The real video: sources, hls.js, custom controls, errors. ----
  var hls = null, source = null, audioIndex = null, errorShown = false, retriedHls = false;
  function seekTo(sec) {
    if (!video) return;

    if (video.readyState >= 1) { try { video.currentTime = sec; } catch (e) { /* not seekable yet */ } return; }
    video.addEventListener("loadedmetadata", function once() {
      video.removeEventListener("loadedmetadata", once);
      try { video.currentTime = sec; } catch (e) { /* not seekable */ }
    });
  }
  function pathOf(url) { return String(url || "").split("?")[0].replace(/^https?:\/\/[^/]+/, ""); }
  var hlsLoading = null;
  function loadHlsJs() {
    if (window.Hls) return Promise.resolve(window.Hls);
    if (hlsLoading) return hlsLoading;
    hlsLoading = new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = "/static/hls.min.js";
      s.onload = function () { if (window.Hls) ok(window.Hls); else fail(new Error("hls.js did not load")); };
      s.onerror = function () { fail(new Error("hls.js did not load")); };
      document.head.appendChild(s);
    });
    return hlsLoading;
  }
  // The server's words for a failed request: JSON ({"error":{"message":…}})
  // from the API and HLS, an error page's alert from /media.
  function serverMessage(text) {
    try { var j = JSON.parse(text); return (j && j.error && j.error.message) || ""; } catch (e) { /* not JSON */ }
    try {
      var p = new DOMParser().parseFromString(String(text), "text/html").querySelector("main p.error");
      return p ? p.textContent.trim() : "";
    } catch (e) { return ""; }
  }
  function failed(code, message) {
    if (errorShown) return;
    errorShown = true;
    var m = message || "the video could not be played";
    status("Playback failed: " + m.charAt(0).toLowerCase() + m.slice(1));
    if (session) { playing = false; render(); }
    post("/api/v1/playback/errors", {
      code: code, message: String(m).slice(0, 500),
      title_id: titleId, device_id: deviceId, position_ms: Math.round(videoMs())
    });
  }
  function onHlsError(_, data) {
    if (!data || !data.fatal) return;
    var text = "", nd = data.networkDetails;
    try {
      if (nd && typeof nd.responseText === "string" && (nd.responseType === "" || nd.responseType === "text")) text = nd.responseText;
      else if (nd && nd.response instanceof ArrayBuffer) text = new TextDecoder().decode(nd.response);
      else if (data.response && typeof data.response.data === "string") text = data.response.data;
    } catch (e) { text = ""; }
    var msg = serverMessage(text);
    if (!msg && data.response && data.response.code) msg = "the server answered " + data.response.code + " for part of the video";
    if (!msg && data.type === "networkError") msg = "the connection to the server was lost";
    if (!msg && data.type === "mediaError") msg = "this browser could not decode the video";
    failed(("HLS." + String(data.details || data.type || "error")).replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64), msg);
  }
  function destroyHls() { if (hls) { hls.destroy(); hls = null; } }
  // Plays `src` (a playback-info source), keeping the position and whether
  // it was paused.
  function useSource(src, keep, viaHlsJs) {
    source = src;
    errorShown = false;
    destroyHls();
    var restore = function () {
      seekTo(keep.time);
      if (!keep.paused) playVideo();
    };
    if (src.protocol === "hls" && (viaHlsJs || !video.canPlayType("application/vnd.apple.mpegurl"))) {
      return loadHlsJs().then(function (Hls) {
        if (!Hls.isSupported()) { failed("HLS_UNSUPPORTED", "this browser cannot play streamed (HLS) video"); return; }
        hls = new Hls({ enableWorker: false, startPosition: keep.time });
        hls.on(Hls.Events.ERROR, onHlsError);
        hls.loadSource(src.url);
        hls.attachMedia(video);
        if (!keep.paused) hls.on(Hls.Events.MANIFEST_PARSED, function () { playVideo(); });
      }).catch(function (e) { failed("HLS_LOAD", String(e.message || e)); });
    }
    video.src = src.url;
    video.load();
    restore();
    return Promise.resolve();
  }
  function playbackInfo(audio) {
    var q = audio === null || audio === undefined ? "" : "?audio=" + encodeURIComponent(audio);
    return fetch("/api/v1/titles/" + titleId + "/playback-info" + q, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }
  // Audio tracks (each a source of its own from playback-info) and
  // subtitles (the video's text tracks).
  function menuItem(menu, label, checked, pick) {
    var b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "menuitemradio");
    b.setAttribute("aria-checked", checked ? "true" : "false");
    b.textContent = label;
    b.addEventListener("click", function () { closeMenus(); pick(); });
    menu.appendChild(b);
  }
  function closeMenus(except) {
    ["audio", "subs"].forEach(function (k) {
      if (k === except) return;
      $(k + "-menu").hidden = true;
      $(k + "-button").setAttribute("aria-expanded", "false");
    });
  }
  function toggleMenu(k) {
    var m = $(k + "-menu"), open = m.hidden;
    closeMenus(k);
    m.hidden = !open;
    $(k + "-button").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { var first = m.querySelector("[aria-checked=true]") || m.firstChild; if (first) first.focus(); }
  }
  var audioTracks = [];
  function buildAudioMenu() {
    var m = $("audio-menu");
    while (m.firstChild) m.removeChild(m.firstChild);
    $("audio-wrap").hidden = audioTracks.length < 2;
    audioTracks.forEach(function (t) {
      var label = t.label || t.language || ("Track " + (t.index + 1));
      if (t.channels > 2) label += " (" + t.channels + " ch)";
      var on = audioIndex === null ? !!t.default : t.index === audioIndex;
      menuItem(m, label, on, function () { pickAudio(t.index); });
    });
  }
  function pickAudio(n) {
    if (n === audioIndex) return;
    var keep = { time: video.currentTime || 0, paused: video.paused };
    playbackInfo(n).then(function (info) {
      if (!info || !info.sources || !info.sources.length) { status("That audio track is not available."); return; }
      audioIndex = n;
      buildAudioMenu();
      useSource(info.sources[0], keep);
    });
  }
  function subtitleTracks() {
    var out = [];
    for (var i = 0; i < video.textTracks.length; i++) {
      var t = video.textTracks[i];
      if (t.kind === "subtitles" || t.kind === "captions") out.push(t);
    }
    return out;
  }
  function setSubtitle(pick) {
    subtitleTracks().forEach(function (t) { t.mode = t === pick ? "showing" : "disabled"; });
    buildSubsMenu();
  }
  function buildSubsMenu() {
    var m = $("subs-menu"), tracks = subtitleTracks(), on = null;
    while (m.firstChild) m.removeChild(m.firstChild);
    $("subs-wrap").hidden = tracks.length === 0;
    tracks.forEach(function (t) { if (t.mode === "showing") on = t; });
    menuItem(m, "Off", on === null, function () { setSubtitle(null); });
    tracks.forEach(function (t, i) {
      menuItem(m, t.label || t.language || ("Subtitles " + (i + 1)), t === on, function () { setSubtitle(t); });
    });
    var name = on ? (on.label || on.language || "on") : "Off";
    $("subs-button").setAttribute("aria-label", "Subtitles: " + name);
    $("subs-button").classList.toggle("on", on !== null);
  }
  function cycleSubtitles() {
    var tracks = subtitleTracks(), at = -1;
    tracks.forEach(function (t, i) { if (t.mode === "showing") at = i; });
    setSubtitle(at + 1 < tracks.length ? tracks[at + 1] : null);
  }
  // playback-info's subtitle list replaces the page's <track>s when they differ.
  function useSubtitleList(list) {
    if (!list || !list.length) return;
    var have = video.querySelectorAll("track");
    if (have.length === list.length) return;
    Array.prototype.forEach.call(have, function (t) { t.parentNode.removeChild(t); });
    list.forEach(function (s) {
      var t = document.createElement("track");
      t.kind = "subtitles";
      t.src = s.url;
      if (s.language) t.srclang = s.language;
      t.label = s.label || s.language || "";
      video.appendChild(t);
    });
    buildSubsMenu();
  }
  function fullscreenEl() { return document.fullscreenElement || document.webkitFullscreenElement || null; }
  function toggleFullscreen() {
    if (fullscreenEl()) { (document.exitFullscreen || document.webkitExitFullscreen).call(document); return; }
    var req = el.requestFullscreen || el.webkitRequestFullscreen;
    if (req) { var p = req.call(el); if (p && p.catch) p.catch(function () { /* refused */ }); }
    else if (video.webkitEnterFullscreen) video.webkitEnterFullscreen();
  }
  function nudge(sec) {
    var d = isFinite(video.duration) ? video.duration : duration / 1000;
    var t = Math.max(0, Math.min(d, (video.currentTime || 0) + sec));
    if (!session) seekBefore = true;
    seekTo(t);
    touched = true;
    renderBar();
  }
  var dragging = false;
  function renderBar() {
    var d = isFinite(video.duration) && video.duration > 0 ? video.duration : duration / 1000;
    var t = video.currentTime || 0;
    var scrub = $("scrub");
    if (!dragging) scrub.value = String(t);
    else t = Number(scrub.value);
    scrub.max = String(d);
    $("elapsed").textContent = fmt(t * 1000);
    $("remaining").textContent = "-" + fmt(Math.max(0, d - t) * 1000);
    scrub.setAttribute("aria-valuetext", fmt(t * 1000) + " of " + fmt(d * 1000));
    var buffered = 0;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t + 0.5) buffered = Math.max(buffered, video.buffered.end(i));
    }
    scrub.style.setProperty("--played", (d ? t / d * 100 : 0) + "%");
    scrub.style.setProperty("--buffered", (d ? Math.min(1, buffered / d) * 100 : 0) + "%");
    var bar = $("vbar");
    var isPlaying = !video.paused && !video.ended;
    bar.classList.toggle("is-playing", isPlaying);
    $("vb-play").setAttribute("aria-label", isPlaying ? "Pause" : "Play");
    bar.classList.toggle("is-muted", video.muted || video.volume === 0);
    $("volume").style.setProperty("--level", (video.muted ? 0 : Math.round(video.volume * 100)) + "%");
    $("vb-mute").setAttribute("aria-label", video.muted ? "Sound on" : "Mute");
    $("vb-full").setAttribute("aria-label", fullscreenEl() ? "Leave full screen" : "Full screen");
  }
  function initVideo(known) {
    // Scripted controls replace the browser's (kept for pages without script).
    video.removeAttribute("controls");
    video.tabIndex = 0;
    $("vbar").hidden = false;
    $("stage").classList.add("has-bar");
    try {
      var vol = localStorage.getItem("marquee.volume");
      if (vol !== null && isFinite(Number(vol))) video.volume = Math.max(0, Math.min(1, Number(vol)));
    } catch (e) { /* storage blocked */ }
    $("volume").value = String(Math.round(video.volume * 100));
    $("vb-play").addEventListener("click", playPause);
    video.addEventListener("click", playPause);
    video.addEventListener("dblclick", toggleFullscreen);
    $("vb-mute").addEventListener("click", function () { video.muted = !video.muted; if (!video.muted) status(""); renderBar(); });
    $("volume").addEventListener("input", function () {
      video.volume = Number($("volume").value) / 100;
      video.muted = video.volume === 0;
      try { localStorage.setItem("marquee.volume", String(video.volume)); } catch (e) { /* storage blocked */ }
      renderBar();
    });
    var scrub = $("scrub");
    scrub.addEventListener("input", function () {
      dragging = true;
      touched = true;
      if (!session) seekBefore = true;
      seekTo(Number(scrub.value));
      renderBar();
    });
    scrub.addEventListener("change", function () { seekTo(Number(scrub.value)); dragging = false; renderBar(); });
    scrub.addEventListener("pointerup", function () { dragging = false; });
    $("vb-full").addEventListener("click", toggleFullscreen);
    document.addEventListener("fullscreenchange", renderBar);
    if (document.pictureInPictureEnabled && !video.disablePictureInPicture) {
      $("vb-pip").hidden = false;
      $("vb-pip").addEventListener("click", function () {
        var p = document.pictureInPictureElement ? document.exitPictureInPicture() : video.requestPictureInPicture();
        if (p && p.catch) p.catch(function (e) { status("Picture in picture is not available: " + (e.message || e)); });
      });
    }
    $("audio-button").addEventListener("click", function () { toggleMenu("audio"); });
    $("subs-button").addEventListener("click", function () { toggleMenu("subs"); });
    document.addEventListener("click", function (e) {
      if (!e.target.closest || !e.target.closest(".vmenu")) closeMenus();
    });
    video.textTracks.addEventListener("addtrack", buildSubsMenu);
    video.textTracks.addEventListener("change", function () { if (!$("subs-menu").contains(document.activeElement)) buildSubsMenu(); });
    buildSubsMenu();
    ["loadedmetadata", "durationchange", "progress", "volumechange", "seeked", "timeupdate"].forEach(function (n) {
      video.addEventListener(n, renderBar);
    });
    video.addEventListener("loadedmetadata", function () {
      // The media's own length, rather than the catalog's runtime.
      if (isFinite(video.duration) && video.duration > 0) { duration = video.duration * 1000; render(); }
    });
    // Pauses and plays from elsewhere (picture in picture, media keys).
    video.addEventListener("pause", function () {
      if (session && playing && !video.ended) { playing = false; lastTick = Date.now(); render(); send(false); }
      renderBar();
    });
    video.addEventListener("play", function () {
      if (!session) {
        if (!starting) { video.pause(); startDefault(); }
        return;
      }
      if (!playing) { playing = true; lastTick = Date.now(); render(); send(false); }
      renderBar();
    });
    video.addEventListener("ended", function () { if (session) finished(); });
    // Keyboard shortcuts while focus is in the player.
    el.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var t = e.target, tag = t.tagName;
      if (tag === "INPUT" && t.type !== "range") return;
      if (tag === "TEXTAREA" || tag === "SELECT" || t.isContentEditable) return;
      if (t.closest && t.closest("dialog, .vmenu-list, .next-overlay")) {
        if (e.key === "Escape") { closeMenus(); var b = t.closest(".vmenu") && t.closest(".vmenu").querySelector(".vbtn"); if (b) b.focus(); }
        return;
      }
      var onButton = tag === "BUTTON" || tag === "SUMMARY" || tag === "A";
      var k = e.key;
      if ((k === " " || k === "Enter") && onButton) return; // the button's own action
      if (t === $("volume") && (k === "ArrowLeft" || k === "ArrowRight" || k === "ArrowUp" || k === "ArrowDown")) return;
      var done = true;
      switch (k) {
        case " ": case "k": case "K": playPause(); break;
        case "ArrowLeft": nudge(-5); break;
        case "ArrowRight": nudge(5); break;
        case "j": case "J": nudge(-10); break;
        case "l": case "L": nudge(10); break;
        case "f": case "F": toggleFullscreen(); break;
        case "m": case "M": video.muted = !video.muted; renderBar(); break;
        case "c": case "C": cycleSubtitles(); break;
        case "Escape": closeMenus(); done = false; break;
        default: done = false;
      }
      if (done) e.preventDefault();
    });
    // Stream errors: said in plain words, and sent to the support agents'
    // context panel. A failed direct file is asked again for the server's
    // reason (an expired link, a file gone).
    video.addEventListener("error", function () {
      if (hls) return; // hls.js reports its own
      // A browser's own HLS that fails gets one more try through hls.js.
      if (source && source.protocol === "hls" && !retriedHls && window.MediaSource) {
        retriedHls = true;
        useSource(source, { time: video.currentTime || 0, paused: !playing }, true);
        return;
      }
      var codes = { 1: "MEDIA_ERR_ABORTED", 2: "MEDIA_ERR_NETWORK", 3: "MEDIA_ERR_DECODE", 4: "MEDIA_ERR_SRC_NOT_SUPPORTED" };
      var words = { 1: "loading was stopped", 2: "the connection to the server was lost", 3: "this browser could not decode the video", 4: "this browser cannot play this video, or the server refused it" };
      var err = video.error || {};
      var code = codes[err.code] || "MEDIA_ERR_UNKNOWN";
      var url = video.currentSrc || video.getAttribute("src");
      var fallback = words[err.code] || String(err.message || "");
      if (!url || url.indexOf("blob:") === 0) { failed(code, fallback); return; }
      fetch(url, { credentials: "same-origin", headers: { Range: "bytes=0-0" } }).then(function (r) {
        if (r.ok) return "";
        return r.text().then(serverMessage);
      }).catch(function () { return ""; }).then(function (m) { failed(code, m || fallback); });
    });
    // playback-info: the preferred source (the page's own link stays when
    // it is the same file, or when the call fails), audio and subtitle tracks.
    var apply = function (info) {
      if (!info) return;
      audioTracks = info.audio_tracks || [];
      buildAudioMenu();
      useSubtitleList(info.subtitle_tracks);
      var first = info.sources && info.sources[0];
      if (!first || !first.url) {
        // A corrupt or truncated file: the server says why.
        if (info.problem) failed("MEDIA_PROBLEM", String(info.problem));
        return;
      }
      if (first.protocol !== "hls" && pathOf(first.url) === pathOf(video.currentSrc || video.getAttribute("src"))) { source = first; return; }
      useSource(first, { time: video.currentTime || (session ? 0 : moment / 1000), paused: video.paused });
    };
    if (known) apply(known); else playbackInfo(null).then(apply);
    renderBar();
  }
  if (video) initVideo(null);
  // A title the page had no file for may still have a source (an
  // operator's packaged HLS): the simulated player becomes a real one.
  else if ($("screen")) {
    playbackInfo(null).then(function (info) {
      if (!info || !info.sources || !info.sources.length || session || starting) return;
      var v = document.createElement("video");
      v.id = "video";
      v.preload = "metadata";
      v.setAttribute("playsinline", "");
      $("screen").parentNode.replaceChild(v, $("screen"));
      video = v;
      if (info.duration_ms > 0) duration = info.duration_ms;
      $("shortcuts").hidden = false;
      initVideo(info);
      render();
    });
  }

  setInterval(tick, 250);
  render();

  if (window.EventSource) {
    device().then(function () {
      var es = new EventSource("/api/v1/events");
      es.addEventListener("streams", function (m) {
        others = {};
        JSON.parse(m.data).forEach(function (s) {
          if (s.device_id !== deviceId) others[s.device_id] = { name: s.device_name, title: s.title_name, title_id: s.title_id, pos: s.position_ms || 0, paused: !!s.paused, at: Date.now() };
        });
        showOthers();
      });
      es.addEventListener("playback", function (m) {
        var e = JSON.parse(m.data);
        if (e.kind === "remote_stop" && e.device_id === deviceId) {
          if (session && e.play_session_id === session) stoppedElsewhere(e);
          return;
        }
        if (e.device_id === deviceId) return;
        if (e.kind === "stop" || e.kind === "remote_stop") { delete others[e.device_id]; } else {
          var was = others[e.device_id];
          var title = e.title_id === titleId ? $("title-name").textContent : (was && was.title_id === e.title_id ? was.title : "");
          others[e.device_id] = { name: e.device_name, title: title, title_id: e.title_id, pos: e.position_ms || 0, paused: !!e.paused, at: Date.now() };
        }
        showOthers();
        if (e.title_id === titleId && !session) {
          var at = (e.kind === "stop" || e.kind === "remote_stop") ? e.resume_ms : e.position_ms;
          var b = $("resume");
          b.dataset.ms = String(at);
          b.textContent = "Resume from " + fmt(at);
          b.hidden = at <= 0;
          // A shared moment keeps its "Play from 1:30".
          if (!(moment > 0)) $("play-start").textContent = at > 0 ? "Play from start" : "Play";
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
