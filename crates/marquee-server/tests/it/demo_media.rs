//! `marquee demo media`: real sample episodes made with ffmpeg (2-second
//! clips here), played from the watch page with English and Spanish
//! subtitles; a second run makes nothing.

use crate::helpers::TestApp;
use marquee_server::demo_media::{generate, DemoMediaError, Options};
use marquee_server::import::NoProgress;
use marquee_server::Config;
use std::path::Path;
use std::process::Command;

/// Whether `program -version` runs; says why the test is skipped if not.
fn have(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: `{program}` is not installed (CI installs ffmpeg in .ci/run)");
    }
    ok
}

/// ffprobe's length of a media file, s.
fn probe_s(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    marquee_testkit::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("codec_name=h264"), "{text}");
    assert!(text.contains("codec_name=aac"), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("duration="))
        .unwrap()
        .parse()
        .unwrap()
}

fn short_clips() -> Options {
    Options {
        clip_s: Some(2),
        ..Options::default()
    }
}

#[tokio::test]
async fn demo_media_makes_playable_sample_episodes_once() {
    if !have("ffmpeg") || !have("ffprobe") {
        return;
    }
    let app = TestApp::builder().demo().start().await;
    let root = marquee_server::playback::media_dir(&app.state);
    let report = generate(&app.state, &short_clips(), &mut NoProgress)
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.made.len(), 15, "{report:?}");
    assert_eq!(report.catalog_updated, 15);
    for m in &report.made {
        assert!(m.path.starts_with("sample/"), "{m:?}");
        let file = root.join(&m.path);
        let secs = probe_s(&file);
        assert!((secs - 2.0).abs() < 0.25, "{m:?}: {secs} s");
        assert_eq!(m.duration_s, secs.round() as i64, "{m:?}");
        // The episode plays the clip, and its runtime is the clip's.
        let t = app
            .store()
            .playable_title(m.title_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.media_path.as_deref(), Some(m.path.as_str()));
        assert_eq!(t.duration_ms, m.duration_s * 1000, "{m:?}");
        for lang in ["en", "es"] {
            let vtt = std::fs::read_to_string(file.with_extension(format!("{lang}.vtt"))).unwrap();
            assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
        }
    }
    let mut paths: Vec<&str> = report.made.iter().map(|m| m.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), 15);
    assert!(
        paths.contains(&"sample/Harbour Lights/S02E03.mp4"),
        "{paths:?}"
    );
    assert!(paths.contains(&"sample/Tiny Planet Shorts/S01E01.mp4"));

    // A viewer's watch page plays the file with both subtitle tracks.
    let viewer = app.signup("viewer@example.com").await;
    let ep = report
        .made
        .iter()
        .find(|m| m.path == "sample/Orbit Kitchen/S01E02.mp4")
        .unwrap();
    let html = app
        .get(&format!("/watch/{}", ep.title_id), Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<video"), "{html}");
    assert_eq!(html.matches("<track").count(), 2, "{html}");
    assert!(html.contains("label=\"English\""), "{html}");
    assert!(html.contains("label=\"Spanish\""), "{html}");
    // The player's link serves the MP4.
    let src = html
        .split("<video id=\"video\" src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let r = app.get(&src, None).await;
    assert_eq!(r.status(), 200, "{src}");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    // +faststart: the index comes before the media data.
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"));

    // Again: nothing is made, nothing in the catalog changes.
    let before = std::fs::metadata(root.join(&ep.path))
        .unwrap()
        .modified()
        .unwrap();
    let again = generate(&app.state, &short_clips(), &mut NoProgress)
        .await
        .unwrap();
    assert!(again.made.is_empty(), "{again:?}");
    assert!(again.failed.is_empty(), "{again:?}");
    assert_eq!(again.skipped.len(), 15);
    assert_eq!(again.catalog_updated, 0);
    let after = std::fs::metadata(root.join(&ep.path))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);

    // Other settings (a longer clip) make that series' clips again.
    let longer = generate(
        &app.state,
        &Options {
            clip_s: Some(3),
            series: Some("Tiny Planet Shorts".into()),
            jobs: 1,
        },
        &mut NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (longer.made.len(), longer.skipped.len()),
        (3, 0),
        "{longer:?}"
    );
    assert!(longer.made.iter().all(|m| m.duration_s == 3), "{longer:?}");
}

#[tokio::test]
async fn without_ffmpeg_it_says_how_to_get_it() {
    let mut config = Config::default();
    config.playback.ffmpeg = "/nonexistent/ffmpeg".into();
    let app = TestApp::builder().demo().config(config).start().await;
    let err = generate(&app.state, &short_clips(), &mut NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, DemoMediaError::NoFfmpeg { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("apt-get install ffmpeg"), "{text}");
    assert!(text.contains("brew install ffmpeg"), "{text}");
    assert!(text.contains("[playback] ffmpeg"), "{text}");
    // No episode was pointed at a file.
    let sample = app.store().source_titles("marquee-sample").await.unwrap();
    assert_eq!(sample.len(), 18, "3 series and 15 episodes");
    for (_, id) in sample {
        let t = app.store().playable_title(id).await.unwrap().unwrap();
        assert_eq!(t.media_path, None);
    }
}

/// ffmpeg failing on one encoder: each episode's failure carries ffmpeg's
/// last line and its episode keeps no media file.
#[cfg(unix)]
#[tokio::test]
async fn an_ffmpeg_failure_is_reported_per_episode() {
    use std::os::unix::fs::PermissionsExt;
    if !have("ffmpeg") || !have("ffprobe") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *libx264*) echo 'some noise' >&2; \
         echo \"Unknown encoder 'libx264'\" >&2; exit 1;; esac\nexec ffmpeg \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = Config::default();
    config.playback.ffmpeg = fake.to_string_lossy().into_owned();
    let app = TestApp::builder().demo().config(config).start().await;
    let opts = Options {
        series: Some("Tiny Planet Shorts".into()),
        ..short_clips()
    };
    let report = generate(&app.state, &opts, &mut NoProgress).await.unwrap();
    assert!(
        report.made.is_empty() && report.skipped.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.failed.len(), 3, "{report:?}");
    for f in &report.failed {
        assert_eq!(f.error, "Unknown encoder 'libx264'", "{f:?}");
        assert!(f.episode.starts_with("Tiny Planet Shorts S01E0"), "{f:?}");
        let t = app
            .store()
            .playable_title(f.title_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.media_path, None);
    }
    // No half-written file is left behind.
    let folder = marquee_server::playback::media_dir(&app.state).join("sample/Tiny Planet Shorts");
    let left: Vec<_> = std::fs::read_dir(&folder)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
