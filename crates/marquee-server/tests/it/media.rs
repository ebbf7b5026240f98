//! Real media (#23) against the real server and the real ffmpeg: a clip
//! made in the test (two audio tracks and a subtitle), scanned and probed;
//! playback-info, direct play with Range, remuxed HLS and its segments,
//! signed links, a corrupt file, the cache cap under a burst of seeks, and
//! ffmpeg failing mid-stream. Skipped, saying so, where ffmpeg is missing
//! (`.ci/run` installs it).

use crate::helpers::TestApp;
use marquee_domain::{Clock, ManualClock};
use marquee_server::import::NoProgress;
use marquee_server::library::{art, Importer};
use marquee_server::media::probe::probe_pending;
use marquee_server::Config;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_800_000_000_000;

/// Whether ffmpeg and ffprobe run here.
pub fn have_ffmpeg() -> bool {
    let runs = |p: &str| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    eprintln!("skipped: ffmpeg/ffprobe are not installed (.ci/run installs them)");
    false
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `secs`-second test pattern with a tone per audio track (English
/// 440 Hz, French 660 Hz), keyframes every 2 s, into `out` (the extension
/// picks the container; `faststart` puts an MP4's index first).
pub fn make_clip(out: &Path, secs: u32, two_audio: bool, faststart: bool) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let t = secs.to_string();
    let o = out.to_string_lossy().into_owned();
    let mut a: Vec<&str> = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
    ];
    if two_audio {
        a.extend(["-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000"]);
    }
    a.extend(["-t", &t, "-map", "0:v", "-map", "1:a"]);
    if two_audio {
        a.extend(["-map", "2:a"]);
    }
    a.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-metadata:s:a:0",
        "language=eng",
    ]);
    if two_audio {
        a.extend(["-metadata:s:a:1", "language=fra"]);
    }
    if faststart {
        a.extend(["-movflags", "+faststart"]);
    }
    a.push(&o);
    ffmpeg(&a);
}

/// A library folder with three movies: "Two Tongues" (Matroska, two audio
/// tracks, French subtitles inside and English ones beside it: remuxed), "Plain Clip" (MP4: direct) and
/// "Broken Reel" (a truncated MP4).
fn library(root: &Path, secs: u32) -> PathBuf {
    let lib = root.join("library");
    let two = lib.join("Movies/Two Tongues (2024)/Two Tongues (2024).mkv");
    let plain_two = root.join("two-without-subtitles.mkv");
    make_clip(&plain_two, secs, true, false);
    // French subtitles inside the file, English ones beside it.
    let fr = root.join("inside.fr.srt");
    std::fs::write(&fr, "1\n00:00:02,000 --> 00:00:04,000\nUn train arrive.\n").unwrap();
    std::fs::create_dir_all(two.parent().unwrap()).unwrap();
    ffmpeg(&[
        "-i",
        &plain_two.to_string_lossy(),
        "-i",
        &fr.to_string_lossy(),
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        "-c:s",
        "srt",
        "-metadata:s:s:0",
        "language=fre",
        &two.to_string_lossy(),
    ]);
    std::fs::write(
        two.with_file_name("Two Tongues (2024).en.srt"),
        "1\n00:00:01,000 --> 00:00:03,000\nHello there.\n\n2\n00:00:04,000 --> 00:00:06,000\nBonjour.\n",
    )
    .unwrap();
    make_clip(
        &lib.join("Movies/Plain Clip (2024)/Plain Clip (2024).mp4"),
        secs,
        false,
        true,
    );
    let whole = root.join("whole.mp4");
    make_clip(&whole, secs, false, false);
    let bytes = std::fs::read(&whole).unwrap();
    let broken = lib.join("Movies/Broken Reel (2024)/Broken Reel (2024).mp4");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    lib
}

async fn import(app: &TestApp, lib: &Path) {
    let importer = Importer {
        store: app.store().as_ref(),
        art_dir: art::dir(&app.state.config.data_dir),
        ratings: app.state.config.catalog.operator_system(),
        now: T0,
    };
    let r = importer.import_path(lib, &mut NoProgress).await.unwrap();
    assert_eq!(r.added, 3, "{r:?}");
}

async fn title(app: &TestApp, name: &str) -> i64 {
    app.store()
        .search_titles(name, 1, &Default::default())
        .await
        .unwrap()
        .remove(0)
        .id
}

async fn app_with(clock: Arc<ManualClock>, f: impl FnOnce(&mut Config)) -> TestApp {
    let mut c = Config::default();
    c.playback.hls_segment_s = 2;
    f(&mut c);
    TestApp::builder().config(c).clock(clock).start().await
}

/// Waits until the workers have found ffmpeg.
async fn ffmpeg_found(app: &TestApp) {
    crate::helpers::wait_until("ffmpeg found", || {
        !matches!(
            app.state.media.ffmpeg(),
            marquee_server::media::tools::Tool::Unknown
        )
    })
    .await;
}

/// A server with the three-movie library scanned and read by ffprobe
/// (as `marquee import catalog` does), once its workers found ffmpeg. Keep
/// `_dir` bound (not `..`): the library is deleted with it.
struct Scanned {
    app: TestApp,
    clock: Arc<ManualClock>,
    lib: PathBuf,
    report: marquee_server::media::probe::ProbeReport,
    _dir: tempfile::TempDir,
}

async fn scanned(secs: u32, f: impl FnOnce(&mut Config)) -> Scanned {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_with(clock.clone(), f).await;
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), secs);
    import(&app, &lib).await;
    let report = probe(&app, &clock).await;
    ffmpeg_found(&app).await;
    Scanned {
        app,
        clock,
        lib,
        report,
        _dir: dir,
    }
}

/// The scan's ffprobe pass.
async fn probe(app: &TestApp, clock: &ManualClock) -> marquee_server::media::probe::ProbeReport {
    let media_dir = app
        .state
        .config
        .playback
        .media_dir_in(&app.state.config.data_dir);
    probe_pending(
        app.store().as_ref(),
        &media_dir,
        "ffprobe",
        clock.now_ms(),
        &mut NoProgress,
    )
    .await
    .unwrap()
}

async fn info(app: &TestApp, token: &str, id: i64, q: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/titles/{id}/playback-info{q}"),
            Some(token),
        )
        .await;
    assert_eq!(r.status(), 200, "playback-info {id}{q}");
    r.json().await.unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The first segment URI of a playlist, resolved against the playlist's URL.
fn segment_url(playlist_url: &str, playlist: &str, n: usize) -> String {
    let uri = playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .nth(n)
        .unwrap_or_else(|| panic!("no segment {n} in {playlist}"));
    let base = playlist_url.split('?').next().unwrap();
    let dir = &base[..base.rfind('/').unwrap() + 1];
    format!("{dir}{uri}")
}

fn ffprobe_streams(bytes: &[u8], dir: &Path) -> Vec<String> {
    let f = dir.join("probe-me.ts");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&f)
        .output()
        .unwrap();
    // Programs repeat their streams: each codec once, in order.
    let mut codecs: Vec<String> = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if !l.is_empty() && !codecs.iter().any(|c| c == l) {
            codecs.push(l.to_string());
        }
    }
    codecs
}

#[tokio::test]
async fn a_scanned_clip_plays_direct_and_as_hls_with_its_tracks() {
    if !have_ffmpeg() {
        return;
    }
    // The scan's probe: the corrupt file is reported, the others read,
    // and titles without a runtime take the media's.
    let Scanned {
        app,
        clock,
        report,
        _dir: dir,
        ..
    } = scanned(10, |_| {}).await;
    assert_eq!(report.probed, 3, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].0.ends_with("Broken Reel (2024).mp4"));
    // The titles without a runtime took their media's. The server's own
    // probe worker may probe beside this pass and set them first, so the
    // titles are checked, not this pass's count.
    for name in ["Two Tongues", "Plain Clip"] {
        let id = title(&app, name).await;
        assert!(
            !app.store().set_runtime_if_missing(id, 1).await.unwrap(),
            "{name} has no runtime after the probe: {report:?}"
        );
    }
    // Probing again reads nothing new.
    let again = probe(&app, &clock).await;
    assert_eq!((again.probed, again.unchanged), (0, 3), "{again:?}");

    let (two, plain, broken) = (
        title(&app, "Two Tongues").await,
        title(&app, "Plain Clip").await,
        title(&app, "Broken Reel").await,
    );
    let viewer = app.signup("media@example.com").await;

    // Direct play: the MP4 as it is, with Range.
    let v = info(&app, &viewer, plain, "").await;
    assert_eq!(v["sources"][0]["method"], "direct", "{v}");
    assert_eq!(v["sources"][0]["mime"], "video/mp4");
    assert_eq!(v["sources"][0]["video_codec"], "h264");
    assert!(
        (v["duration_ms"].as_i64().unwrap() - 10_000).abs() < 200,
        "{v}"
    );
    let direct = s(&v["sources"][0]["url"]).to_string();
    let r = app
        .client
        .get(app.url(&direct))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let r = app
        .client
        .get(app.url(&direct))
        .header("Range", "bytes=999999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let r = app
        .client
        .get(app.url(&direct))
        .header("Range", "bytes=50-10")
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 200 | 416), "{}", r.status());

    // The Matroska file: remuxed HLS, two audio tracks, one subtitle.
    let v = info(&app, &viewer, two, "").await;
    assert_eq!(v["sources"][0]["method"], "remux", "{v}");
    assert_eq!(v["sources"][0]["protocol"], "hls");
    assert_eq!(v["transcoding"]["available"], true);
    let labels: Vec<&str> = v["audio_tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| s(&a["label"]))
        .collect();
    assert_eq!(labels, ["English", "French"], "{v}");
    let subs: Vec<&str> = v["subtitle_tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["label"]))
        .collect();
    assert_eq!(
        subs,
        ["English", "French"],
        "beside the file, then inside it: {v}"
    );
    let inside = app
        .get(s(&v["subtitle_tracks"][1]["url"]), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        inside.starts_with("WEBVTT") && inside.contains("Un train arrive."),
        "{inside}"
    );
    let vtt = app
        .get(s(&v["subtitle_tracks"][0]["url"]), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("Bonjour."),
        "{vtt}"
    );

    let playlist_url = s(&v["sources"][0]["url"]).to_string();
    let r = app.get(&playlist_url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let playlist = r.text().await.unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    assert!(
        playlist.trim_end().ends_with("#EXT-X-ENDLIST"),
        "{playlist}"
    );
    // Five segments: four of 2 s, and the last to the end of the audio.
    assert_eq!(playlist.matches("#EXTINF:").count(), 5, "{playlist}");
    assert_eq!(playlist.matches("#EXTINF:2.000,").count(), 4, "{playlist}");
    assert!(playlist.contains("#EXT-X-TARGETDURATION:3\n"), "{playlist}");
    // Each segment carries the signature; no cookie is needed.
    let seg0 = segment_url(&playlist_url, &playlist, 0);
    assert!(seg0.contains("sig="), "{seg0}");
    let r = app.get(&seg0, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp2t");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes[0], 0x47, "an MPEG-TS packet");
    assert_eq!(
        ffprobe_streams(&bytes, dir.path()),
        ["h264", "aac"],
        "remuxed: the video and the chosen audio, copied"
    );
    // A seek far ahead: the last segment, made from its own start.
    let last = segment_url(&playlist_url, &playlist, 4);
    let r = app.get(&last, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap()[0], 0x47);
    // Past the end is not found.
    let past = last.replace("/4.ts?", "/5.ts?");
    assert_eq!(app.get(&past, None).await.status(), 404);

    // The French track: another playlist, signed on its own.
    let fr = v["audio_tracks"][1]["index"].as_u64().unwrap();
    let v_fr = info(&app, &viewer, two, &format!("?audio={fr}")).await;
    let fr_url = s(&v_fr["sources"][0]["url"]).to_string();
    assert!(
        fr_url.contains(&format!("/hls/{fr}/index.m3u8?")),
        "{fr_url}"
    );
    let fr_list = app.get(&fr_url, None).await.text().await.unwrap();
    let r = app.get(&segment_url(&fr_url, &fr_list, 1), None).await;
    assert_eq!(r.status(), 200);
    // Another track's signature does not open this one.
    let swapped = fr_url.replace(&format!("/hls/{fr}/"), "/hls/1/");
    assert_eq!(app.get(&swapped, None).await.status(), 403);
    // No such audio track: a clear 400 naming the field.
    let r = app
        .get(
            &format!("/api/v1/titles/{two}/playback-info?audio=9"),
            Some(&viewer),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "audio", "{e}");

    // The corrupt file offers nothing, and says why.
    let v = info(&app, &viewer, broken, "").await;
    assert_eq!(v["sources"], serde_json::json!([]), "{v}");
    assert!(s(&v["problem"]).contains("cannot be played"), "{v}");

    // Tampered and expired links are refused.
    let tampered = playlist_url.replace("sig=", "sig=0");
    assert_eq!(app.get(&tampered, None).await.status(), 403);
    clock.advance((app.state.config.playback.media_link_ttl_s as i64 + 1) * 1000);
    let r = app.get(&seg0, None).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("expired"));
    let r = app.get(&direct, None).await;
    assert_eq!(r.status(), 403);

    // Stopping the stream deletes what was made for it.
    let cache = app.state.media.hls.cache_dir().to_path_buf();
    assert!(app.state.media.hls.cache_bytes() > 0);
    let pid: i64 = viewer_profile(&app, &viewer).await;
    app.state.media.hls.end(pid, two).await;
    assert_eq!(app.state.media.hls.cache_bytes(), 0, "{cache:?}");
}

async fn viewer_profile(app: &TestApp, token: &str) -> i64 {
    let me: Value = app
        .get("/api/v1/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    me["current_profile_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no profile in {me}"))
}

#[tokio::test]
async fn the_segment_cache_holds_its_cap_under_a_burst_of_seeks() {
    if !have_ffmpeg() {
        return;
    }
    let cap: u64 = 1024 * 1024;
    let Scanned {
        app,
        lib,
        _dir: _keep,
        ..
    } = scanned(60, |c| c.playback.hls_cache_mb = 1).await;
    let two = title(&app, "Two Tongues").await;
    let a = app.signup("seeker-a@example.com").await;
    // Direct play streams a range longer than one read in several reads.
    let plain = title(&app, "Plain Clip").await;
    let v = info(&app, &a, plain, "").await;
    let on_disk =
        std::fs::read(lib.join("Movies/Plain Clip (2024)/Plain Clip (2024).mp4")).unwrap();
    assert!(on_disk.len() as u64 > 2 * marquee_server::ranged::CHUNK);
    let r = app
        .client
        .get(app.url(s(&v["sources"][0]["url"])))
        .header("Range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 100-{}/{}", on_disk.len() - 1, on_disk.len()).as_str()
    );
    assert!(
        r.bytes().await.unwrap() == on_disk[100..],
        "the bytes of the file"
    );
    let b = app.signup("seeker-b@example.com").await;

    // Watch the cache while two viewers seek about.
    let media = app.state.media.clone();
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let w = watching.clone();
    let sampler = tokio::spawn(async move {
        let mut most = 0;
        while w.load(std::sync::atomic::Ordering::Relaxed) {
            most = most.max(media.hls.cache_bytes());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        most
    });
    let seeks = |token: String, order: Vec<usize>| {
        let app = &app;
        async move {
            let v = info(app, &token, two, "").await;
            let url = s(&v["sources"][0]["url"]).to_string();
            let list = app.get(&url, None).await.text().await.unwrap();
            let mut served = 0;
            for n in order {
                let r = app.get(&segment_url(&url, &list, n), None).await;
                assert_eq!(r.status(), 200, "segment {n}");
                let bytes = r.bytes().await.unwrap();
                assert!(
                    bytes.len() > 1000 && bytes[0] == 0x47,
                    "segment {n}: {} bytes",
                    bytes.len()
                );
                served += 1;
            }
            served
        }
    };
    let (sa, sb) = tokio::join!(
        seeks(a, vec![0, 1, 20, 5, 28, 12, 29, 3, 17, 8, 25, 2]),
        seeks(b, vec![15, 0, 27, 9, 22, 4, 13, 26, 1, 19])
    );
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.await.unwrap();
    assert_eq!((sa, sb), (12, 10));
    assert!(
        most <= cap,
        "the cache held {most} bytes, over its cap of {cap}"
    );
    assert!(most > cap / 4, "the cache was used: {most} bytes");
}

#[tokio::test]
async fn ffmpeg_failing_mid_stream_is_an_error_the_player_can_show() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // An ffmpeg that makes the first chunk and dies on any seek.
    let fake = dir.path().join("flaky-ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         for a in \"$@\"; do [ \"$a\" = -ss ] && { echo 'Conversion failed: simulated crash' >&2; exit 1; }; done\n\
         exec ffmpeg \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake_path = fake.to_string_lossy().into_owned();
    let Scanned {
        app, _dir: _keep, ..
    } = scanned(30, |c| c.playback.ffmpeg = fake_path).await;
    let two = title(&app, "Two Tongues").await;
    let viewer = app.signup("crash@example.com").await;
    let v = info(&app, &viewer, two, "").await;
    let url = s(&v["sources"][0]["url"]).to_string();
    let list = app.get(&url, None).await.text().await.unwrap();
    assert_eq!(
        app.get(&segment_url(&url, &list, 0), None).await.status(),
        200
    );
    assert!(app.state.media.hls.cache_bytes() > 0);
    // A seek far ahead restarts ffmpeg, which dies: 502 with its words.
    let r = app.get(&segment_url(&url, &list, 12), None).await;
    let status = r.status();
    let e: Value = r.json().await.unwrap();
    assert_eq!(status, 502, "{e}");
    let msg = s(&e["error"]["message"]);
    assert!(msg.contains("simulated crash"), "{e}");
    // …and the session's segments are gone.
    assert_eq!(app.state.media.hls.cache_bytes(), 0);
}

#[tokio::test]
async fn without_ffmpeg_only_direct_play_is_offered_and_it_says_why() {
    if !have_ffmpeg() {
        return;
    }
    let Scanned {
        app, _dir: _keep, ..
    } = scanned(4, |c| {
        c.playback.ffmpeg = "/nonexistent/ffmpeg".into();
    })
    .await;
    let two = title(&app, "Two Tongues").await;
    let viewer = app.signup("noffmpeg@example.com").await;
    let v = info(&app, &viewer, two, "").await;
    assert_eq!(v["transcoding"]["available"], false);
    assert!(
        s(&v["transcoding"]["reason"]).contains("was not found"),
        "{v}"
    );
    let methods: Vec<&str> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| s(&x["method"]))
        .collect();
    assert_eq!(methods, ["direct"], "{v}");
    // The staff's catalog page says why, and which file cannot be played.
    let admin = app
        .login_as("catalog-admin@example.com", marquee_domain::Role::Admin)
        .await;
    let html = app
        .get("/staff/catalog", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("No remuxing or transcoding: `/nonexistent/ffmpeg` was not found"),
        "{html}"
    );
    assert!(
        html.contains("Broken Reel (2024).mp4</span>: not a media file"),
        "{html}"
    );
    // The title's editor says how its file plays.
    let html = app
        .get(&format!("/staff/catalog/{two}"), Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("2 audio tracks (English, French)")
            && html.contains("which this server cannot do"),
        "{html}"
    );
}
