//! Bring your own library (#21): the fixture library (two movies; a series
//! with two seasons and five episodes; NFO files and pictures) imported,
//! re-imported, changed and broken; artwork served; the title page and the
//! API showing what was imported; a feed posted by an admin.

use crate::helpers::TestApp;
use marquee_domain::Role;
use marquee_server::import::NoProgress;
use marquee_server::library::{art, Importer, LibraryReport};
use reqwest::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/library")
}

/// Copies a folder tree (the fixture, into a temporary folder we may change).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

async fn import(app: &TestApp, path: &Path) -> LibraryReport {
    let importer = Importer {
        store: app.store().as_ref(),
        art_dir: art::dir(&app.state.config.data_dir),
        ratings: app.state.config.catalog.operator_system(),
        now: 1_000,
    };
    importer.import_path(path, &mut NoProgress).await.unwrap()
}

fn rejected_files(r: &LibraryReport) -> Vec<String> {
    let mut v: Vec<String> = r.rejected.iter().map(|x| x.file.clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_library_folder_imports_once_and_reimports_only_what_changed() {
    let app = TestApp::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    copy_tree(&fixture(), &lib);

    let first = import(&app, &lib).await;
    assert!(first.rejected.is_empty(), "{:#?}", first.rejected);
    // 2 movies + 1 series + 5 episodes.
    assert_eq!((first.added, first.updated, first.unchanged), (8, 0, 0));
    // 2 posters x 3 sizes (card, detail, share) + 1 folder.jpg x 3, 3 backdrops x 2, 1 thumb.
    assert_eq!(first.artwork_written, 3 * 3 + 3 * 2 + 1, "{first:?}");

    let again = import(&app, &lib).await;
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 8));
    assert_eq!(again.artwork_written, 0);
    assert_eq!(again.artwork_unchanged, 7);

    // One plot changes; one poster is replaced by another picture.
    let nfo = lib.join("Movies/The Quiet Harbor (2019)/movie.nfo");
    let text = std::fs::read_to_string(&nfo).unwrap();
    std::fs::write(
        &nfo,
        text.replace("keeping a secret", "keeping two secrets"),
    )
    .unwrap();
    std::fs::copy(
        lib.join("Shows/Lighthouse Keepers/poster.jpg"),
        lib.join("Movies/The Quiet Harbor (2019)/poster.jpg"),
    )
    .unwrap();
    let changed = import(&app, &lib).await;
    assert_eq!(
        (changed.added, changed.updated, changed.unchanged),
        (0, 1, 7)
    );
    assert_eq!(changed.artwork_written, 3);

    let store = app.store();
    let movie = store.title_by_key("tmdb:9900001").await.unwrap().unwrap();
    let d = store.library_detail(movie).await.unwrap().unwrap();
    assert!(d.synopsis.unwrap().contains("two secrets"));
    assert_eq!(
        d.maturity.map(|m| (m.code, m.min_age)),
        Some(("PG-13".into(), 13))
    );
    assert!(d
        .people
        .iter()
        .any(|p| p.name == "Ada Brookwell" && p.role == "actor"));
    assert_eq!(d.media.len(), 1);
    let night = store
        .search_titles("Night Train", 1, &Default::default())
        .await
        .unwrap()
        .remove(0)
        .id;
    let n = store.library_detail(night).await.unwrap().unwrap();
    assert_eq!(n.media[0].subtitles.len(), 1, "the .en.srt sidecar");
}

#[tokio::test]
async fn broken_files_are_reported_and_the_import_goes_on() {
    let app = TestApp::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    copy_tree(&fixture(), &lib);
    let m = |name: &str| {
        let d = lib.join("Movies").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.mp4")), b"").unwrap();
        d
    };
    // Not XML.
    std::fs::write(m("Broken (2020)").join("movie.nfo"), b"this is { not xml").unwrap();
    // No title (and an unknown element, which alone would be fine).
    std::fs::write(
        m("Nameless (2020)").join("movie.nfo"),
        b"<movie><year>2020</year><sparkles>yes</sparkles></movie>",
    )
    .unwrap();
    // A poster that is HTML, a backdrop that claims 100 megapixels.
    let fake = m("Fake Art (2020)");
    std::fs::write(
        fake.join("movie.nfo"),
        b"<movie><title>Fake Art</title><uniqueid type=\"tmdb\">77</uniqueid></movie>",
    )
    .unwrap();
    std::fs::write(
        fake.join("poster.jpg"),
        b"<html><body>not a picture</body></html>",
    )
    .unwrap();
    std::fs::write(fake.join("fanart.png"), bomb_png(10_000, 10_000)).unwrap();
    // A poster that is a link to a file outside the library.
    let outside = dir.path().join("outside.jpg");
    std::fs::copy(lib.join("Shows/Lighthouse Keepers/poster.jpg"), &outside).unwrap();
    let linked = m("Linked (2020)");
    std::fs::write(
        linked.join("movie.nfo"),
        b"<movie><title>Linked</title><uniqueid type=\"tmdb\">78</uniqueid></movie>",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, linked.join("poster.jpg")).unwrap();

    let r = import(&app, &lib).await;
    // The fixture's 8 titles and the two good new movies.
    assert_eq!(r.added, 10, "{:#?}", r.rejected);
    let files = rejected_files(&r);
    assert!(
        files.iter().any(|f| f.ends_with("Broken (2020)/movie.nfo")),
        "{files:?}"
    );
    let nameless = r
        .rejected
        .iter()
        .find(|x| x.file.contains("Nameless"))
        .unwrap();
    assert_eq!(nameless.field.as_deref(), Some("title"), "{nameless:?}");
    let poster = r
        .rejected
        .iter()
        .find(|x| x.file.contains("Fake Art") && x.field.as_deref() == Some("artwork.poster"))
        .unwrap_or_else(|| panic!("{:#?}", r.rejected));
    assert!(poster.message.contains("poster.jpg"), "{poster:?}");
    let bomb = r
        .rejected
        .iter()
        .find(|x| x.file.contains("Fake Art") && x.field.as_deref() == Some("artwork.backdrop"))
        .unwrap_or_else(|| panic!("{:#?}", r.rejected));
    assert!(bomb.message.contains("megapixels"), "{bomb:?}");
    assert!(
        r.rejected
            .iter()
            .any(|x| x.file.contains("Linked") && x.message.contains("outside")),
        "{:#?}",
        r.rejected
    );
    // The good titles were written, without the refused pictures.
    let store = app.store();
    let fake_id = store.title_by_key("tmdb:77").await.unwrap().unwrap();
    assert!(store.artwork_of(&[fake_id]).await.unwrap().is_empty());
    assert!(store.title_by_key("tmdb:78").await.unwrap().is_some());
}

/// A PNG header (signature + IHDR with a correct CRC) claiming a size, and
/// nothing else: decoding it would allocate width x height x 4 bytes.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc32(&ihdr).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn title_pages_show_artwork_synopsis_and_episodes_and_art_is_cached_for_good() {
    let app = TestApp::builder().start().await;
    import(&app, &fixture()).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let store = app.store();
    let series = store.title_by_key("tmdb:9900010").await.unwrap().unwrap();
    let r = app.get(&format!("/titles/{series}"), Some(&viewer)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"title-poster\""), "{html}");
    assert!(html.contains("id=\"title-backdrop\""));
    assert!(html.contains("id=\"maturity\""));
    assert_eq!(html.matches("class=\"episode\"").count(), 5, "{html}");
    assert!(html.contains("Season 2") || html.contains("season-2"));
    // Logged out: an invitation to sign up, no player.
    let anon = app
        .get(&format!("/titles/{series}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(anon.contains("id=\"signup-to-watch\""));
    assert!(!anon.contains("id=\"play\""));

    // The poster's URL serves a JPEG with a strong ETag, cached for good.
    let src = html
        .split("id=\"title-poster\" src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = app.get(&src, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));
    let body = r.bytes().await.unwrap();
    assert_eq!(&body[..2], b"\xff\xd8");
    let r = app
        .req(Method::GET, &src, None)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    for bad in [
        "/art/..%2F..%2Fetc%2Fpasswd",
        "/art/zz.jpg",
        "/art/0123456789abcdef0123456789abcdef.jpg",
    ] {
        assert_eq!(app.get(bad, None).await.status(), 404, "{bad}");
    }

    // The API carries the same.
    let v: Value = app
        .get(&format!("/api/v1/titles/{series}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["library"]["maturity"], "TV-PG");
    assert_eq!(v["library"]["seasons"].as_array().unwrap().len(), 2);
    assert!(v["library"]["poster"]["src"]
        .as_str()
        .unwrap()
        .starts_with("/art/"));
}

#[tokio::test]
async fn an_admin_posts_a_feed_once_and_again() {
    let app = TestApp::builder().posters().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let feed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog-feed.example.jsonl"),
    )
    .unwrap();
    let post = |token: &str, body: String| {
        app.req(Method::POST, "/api/v1/staff/catalog/feed", Some(token))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    assert_eq!(post(&viewer, feed.clone()).await.unwrap().status(), 403);
    let r = post(&admin, feed.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let added = v["added"].as_u64().unwrap();
    assert!(added >= 3, "{v}");
    // The example's artwork paths cannot be read from a posted feed: each is
    // reported, the titles are imported.
    for x in v["rejected"].as_array().unwrap() {
        assert!(x["field"].as_str().unwrap().starts_with("artwork."), "{x}");
    }
    let v: Value = post(&admin, feed.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["added"], 0);
    assert_eq!(v["unchanged"].as_u64().unwrap(), added, "{v}");

    // A bad line is rejected with its line and field; the good one goes in.
    let header = feed.lines().next().unwrap();
    let body = format!(
        "{header}\n{{\"type\": \"movie\", \"name\": \"Year Typo\", \"year\": \"nineteen\", \"ids\": {{\"tmdb\": \"5\"}}}}\n\
         {{\"type\": \"movie\", \"name\": \"Fine\", \"ids\": {{\"tmdb\": \"6\"}}, \"colour\": \"blue\"}}\n\
         {{\"type\": \"movie\", \"name\": \"Fine Too\", \"ids\": {{\"imdb\": \"tt0000006\"}}}}\n"
    );
    let v: Value = post(&admin, body).await.unwrap().json().await.unwrap();
    assert_eq!(v["added"], 1, "{v}");
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{v}");
    assert_eq!(rejected[0]["line"], 2);
    assert_eq!(rejected[0]["field"], "year");
    assert_eq!(rejected[1]["line"], 3);
    assert_eq!(rejected[1]["field"], "colour", "{v}");
    // The new title is found by search, and the poster worker draws it a
    // poster.
    let found = app
        .store()
        .search_titles("Fine Too", 1, &Default::default())
        .await
        .unwrap();
    let id = found[0].id;
    let mut art = Vec::new();
    for _ in 0..200 {
        art = app.store().artwork_of(&[id]).await.unwrap();
        if !art.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        art.iter()
            .any(|a| a.origin == "generated" && a.size == "card"),
        "{art:?}"
    );
}

#[tokio::test]
async fn browser_title_page_shows_the_poster_and_episodes_with_progress() {
    let Some(driver) = crate::browser::start_driver().await else {
        return;
    };
    let app = TestApp::builder().start().await;
    import(&app, &fixture()).await;
    app.login_as("viewer@example.com", Role::Viewer).await;
    let store = app.store();
    let account = store
        .credentials("viewer@example.com")
        .await
        .unwrap()
        .unwrap()
        .account;
    let profile = store.profiles(account.id).await.unwrap()[0].id;
    let series = store.title_by_key("tmdb:9900010").await.unwrap().unwrap();
    let watched = store
        .title_by_key("tmdb:9900010/S01E02")
        .await
        .unwrap()
        .unwrap();
    store.set_played(profile, watched, true, 5).await.unwrap();

    let c = crate::browser::browser(&driver).await;
    let run = async {
        crate::browser::log_in(&c, &app, "viewer@example.com", crate::helpers::PASSWORD).await;
        crate::browser::wait_for(&c, "header.top").await;
        c.goto(&app.url(&format!("/titles/{series}")))
            .await
            .unwrap();
        crate::browser::wait_for(&c, "#title-poster").await;
        // The poster is a picture the browser decoded, not a broken link.
        let width = c
            .execute(
                "const i = document.querySelector('#title-poster'); \
                 return i.complete ? i.naturalWidth : -1;",
                vec![],
            )
            .await
            .unwrap();
        assert!(width.as_i64().unwrap_or(0) > 100, "poster width {width}");
        let episodes = c
            .find_all(fantoccini::Locator::Css("#episodes .episode"))
            .await
            .unwrap();
        assert_eq!(episodes.len(), 5);
        let bar = c
            .find(fantoccini::Locator::Css(&format!(
                "#episode-{watched} progress.episode-progress"
            )))
            .await
            .unwrap();
        assert_eq!(bar.attr("value").await.unwrap().as_deref(), Some("100"));
        let synopsis = c
            .find(fantoccini::Locator::Css("#synopsis"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!synopsis.is_empty());
    };
    run.await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn the_catalog_editor_creates_edits_hides_uploads_and_audits() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let send = |method: Method, path: String, body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app
                .req(method, &path, Some(&admin))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = send(
        Method::POST,
        "/api/v1/staff/titles".into(),
        serde_json::json!({"kind": "series", "name": "Tide Tables", "year": 2024, "maturity": "tv-pg"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let series = v["id"].as_i64().unwrap();
    let (s, v) = send(
        Method::POST,
        "/api/v1/staff/titles".into(),
        serde_json::json!({"kind": "episode", "name": "Low Water", "series_id": series,
                           "season": 1, "episode": 1, "runtime_min": 42}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = send(
        Method::POST,
        "/api/v1/staff/titles".into(),
        serde_json::json!({"kind": "episode", "name": "Again", "series_id": series,
                           "season": 1, "episode": 1}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (409, Some("episode")),
        "{v}"
    );

    // Refusals name the field and change nothing.
    for (body, field) in [
        (serde_json::json!({"maturity": "XXX"}), "maturity"),
        (serde_json::json!({"name": " "}), "name"),
        (
            serde_json::json!({"available_from": 10, "available_until": 5}),
            "available_until",
        ),
        (serde_json::json!({"colour": "blue"}), "colour"),
    ] {
        let (s, v) = send(
            Method::PATCH,
            format!("/api/v1/staff/titles/{series}"),
            body,
        )
        .await;
        assert_eq!((s, v["error"]["field"].as_str()), (400, Some(field)), "{v}");
    }

    // Viewers see it until it is hidden; then it is gone everywhere.
    assert_eq!(
        app.get(&format!("/titles/{series}"), Some(&viewer))
            .await
            .status(),
        200
    );
    let (s, v) = send(
        Method::PATCH,
        format!("/api/v1/staff/titles/{series}"),
        serde_json::json!({"hidden": true, "maturity": "TV-14", "synopsis": "Tides."}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let changes: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        vec![
            "Synopsis added",
            "Maturity rating: TV-PG → TV-14",
            "Hidden from viewers"
        ]
    );
    assert_eq!(
        app.get(&format!("/titles/{series}"), Some(&viewer))
            .await
            .status(),
        404
    );
    let found: Value = app
        .get("/api/v1/search?q=tide", Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert!(found.as_array().unwrap().is_empty(), "{found}");
    // The same edit again changes nothing and records nothing.
    let (s, v) = send(
        Method::PATCH,
        format!("/api/v1/staff/titles/{series}"),
        serde_json::json!({"hidden": true}),
    )
    .await;
    assert_eq!((s, v["changes"].as_array().map(Vec::len)), (200, Some(0)));

    // A poster upload makes the renditions; a text file is refused.
    let poster = std::fs::read(fixture().join("Shows/Lighthouse Keepers/poster.jpg")).unwrap();
    let r = app
        .req(
            Method::PUT,
            &format!("/api/v1/staff/titles/{series}/artwork/poster"),
            Some(&admin),
        )
        .body(poster)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .req(
            Method::PUT,
            &format!("/api/v1/staff/titles/{series}/artwork/poster"),
            Some(&admin),
        )
        .body("<svg onload=alert(1)>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let art = app.store().artwork_of(&[series]).await.unwrap();
    assert!(
        art.iter()
            .any(|a| a.origin == "uploaded" && a.size == "card"),
        "{art:?}"
    );

    // The audit trail, newest first, in sentences; and on the editor's page.
    let trail: Value = app
        .get(
            &format!("/api/v1/staff/titles/{series}/audit"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["artwork", "edited", "created"], "{trail}");
    assert_eq!(trail[1]["by"], "admin@example.com");
    let html = app
        .get(&format!("/staff/catalog/{series}"), Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Maturity rating: TV-PG → TV-14"), "{html}");
    assert!(html.contains("id=\"editor-hidden\" checked"));
    let list = app
        .get("/staff/catalog?q=tide", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Tide Tables") && list.contains("<strong>Hidden</strong>"));
    // Not for viewers or agents.
    assert_eq!(
        app.get(&format!("/api/v1/staff/titles/{series}"), Some(&viewer))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn profiles_can_be_edited_given_an_avatar_and_deleted_but_not_the_last() {
    let app = TestApp::builder().start().await;
    let token = app.login_as("family@example.com", Role::Viewer).await;
    let other = app.login_as("other@example.com", Role::Viewer).await;
    let me: Value = app
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let main = me["profiles"][0]["id"].as_i64().unwrap();
    let r = app
        .post_json(
            "/api/v1/profiles",
            Some(&token),
            &serde_json::json!({"name": "Sam"}),
        )
        .await;
    let sam = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let patch = |who: &str, id: i64, body: Value| {
        let req = app
            .req(Method::PATCH, &format!("/api/v1/profiles/{id}"), Some(who))
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = patch(
        &token,
        sam,
        serde_json::json!({"name": "Sammy", "is_kids": true, "avatar": "teal"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["name"].as_str(),
            v["is_kids"].as_bool(),
            v["avatar"].as_str()
        ),
        (Some("Sammy"), Some(true), Some("teal"))
    );
    // Absent fields stay.
    let (_, v) = patch(&token, sam, serde_json::json!({"name": "Sam"})).await;
    assert_eq!(
        (v["is_kids"].as_bool(), v["avatar"].as_str()),
        (Some(true), Some("teal"))
    );
    let (s, v) = patch(&token, sam, serde_json::json!({"avatar": "chartreuse"})).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("avatar")),
        "{v}"
    );
    // Another account's profile does not exist for this one.
    let (s, _) = patch(&other, sam, serde_json::json!({"name": "Mine"})).await;
    assert_eq!(s, 404);
    let del = |who: &str, id: i64| {
        app.req(Method::DELETE, &format!("/api/v1/profiles/{id}"), Some(who))
            .send()
    };
    assert_eq!(del(&other, sam).await.unwrap().status(), 404);
    // The profile's history goes with it.
    let store = app.store();
    let t = app.add_title("A film").await;
    store.set_played(sam, t, true, 5).await.unwrap();
    assert_eq!(del(&token, sam).await.unwrap().status(), 204);
    assert!(store.profile(sam).await.unwrap().is_none());
    assert!(store.title_progress(sam, t).await.unwrap().is_none());
    let r = del(&token, main).await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "profile");
    // The page offers the same, with a warning before deleting.
    let html = app
        .get("/profiles", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("action=\"/profiles/{main}/edit\"")),
        "{html}"
    );
    assert!(
        !html.contains("/delete\""),
        "the last profile offers no delete"
    );
}

#[tokio::test]
async fn a_new_title_gets_similars_by_genres_tags_and_cast() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let line = |name: &str, id: u32, genres: &str, tags: &str, cast: &str| {
        format!(
            "{{\"type\": \"movie\", \"name\": \"{name}\", \"genres\": [{genres}], \"tags\": [{tags}], \
             \"cast\": [{cast}], \"ids\": {{\"tmdb\": {id}}}}}\n"
        )
    };
    let ada = "{\"name\": \"Ada Moss\"}";
    let mut feed = String::from("{\"format\": \"marquee-catalog\", \"version\": 1}\n");
    feed += &line("Harbour Lights", 1, "\"Drama\"", "\"lighthouse\"", ada);
    feed += &line("Keeper of the Light", 2, "\"Drama\"", "\"Lighthouse\"", ada);
    feed += &line("The Lamp Room", 3, "\"Mystery\"", "\"lighthouse\"", "");
    for i in 0..5 {
        feed += &line(&format!("Plain Drama {i}"), 10 + i, "\"Drama\"", "", "");
    }
    feed += &line(
        "Loud Comedy",
        20,
        "\"Comedy\"",
        "\"pratfalls\"",
        "{\"name\": \"Someone Else\"}",
    );
    feed += &line("Quiet Comedy", 21, "\"Comedy\"", "\"pratfalls\"", "");
    let r = app
        .req(Method::POST, "/api/v1/staff/catalog/feed", Some(&admin))
        .header("content-type", "application/x-ndjson")
        .body(feed)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["added"], 10, "{v}");
    let id_of = |name: &'static str| {
        let store = app.store().clone();
        async move {
            store
                .search_titles(name, 1, &Default::default())
                .await
                .unwrap()[0]
                .id
        }
    };
    let harbour = id_of("Harbour Lights").await;
    let keeper = id_of("Keeper of the Light").await;
    let lamp = id_of("The Lamp Room").await;
    // Nobody has watched any of them: the similars come from the catalog,
    // which reaches the recommender without a restart.
    let mut items = Vec::new();
    for _ in 0..200 {
        let r = app
            .get(&format!("/api/v1/titles/{harbour}/similar?n=4"), None)
            .await;
        if r.status() == 200 {
            let v: Value = r.json().await.unwrap();
            items = v["items"].as_array().unwrap().clone();
            if !items.is_empty() {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ids: Vec<i64> = items
        .iter()
        .map(|i| i["title_id"].as_i64().unwrap())
        .collect();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{names:?}");
    // Same cast, tag and genre first; then the shared rare tag beats the
    // shared common genre; comedies share nothing and never appear.
    assert_eq!(ids[0], keeper, "{names:?}");
    assert_eq!(ids[1], lamp, "{names:?}");
    assert!(
        names[2..].iter().all(|n| n.starts_with("Plain Drama")),
        "{names:?}"
    );
    assert!(!ids.contains(&harbour));
}

/// A scanned movie plays from its library folder, with its sidecar SubRip
/// as a WebVTT track; both links are signed and work without a log-in.
#[tokio::test]
async fn a_scanned_movie_plays_from_its_folder_with_its_subtitles() {
    let app = TestApp::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    copy_tree(&fixture(), &lib);
    let movie = lib.join("Movies/Night Train to Lisbon (2021)/Night Train to Lisbon (2021).mkv");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&movie, &bytes).unwrap();
    import(&app, &lib).await;
    let night = app
        .store()
        .search_titles("Night Train", 1, &Default::default())
        .await
        .unwrap()
        .remove(0)
        .id;
    let viewer = app.signup("subs@example.com").await;
    let html = app
        .get(&format!("/watch/{night}"), Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    let attr = |html: &str, before: &str| -> String {
        html.split(before)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no {before} in {html}"))
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    };
    let video = attr(&html, "<video id=\"video\" src=\"");
    assert!(
        video.starts_with(&format!("/media/{night}?sub=p")),
        "{video}"
    );
    let track = attr(&html, "<track kind=\"subtitles\" src=\"");
    assert!(
        track.starts_with(&format!("/media/{night}/subtitles/0?sub=p")),
        "{track}"
    );
    assert!(html.contains("srclang=\"en\" label=\"English\""), "{html}");

    let r = app.get(&video, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
    let r = app.get(&track, None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vtt"));
    assert_eq!(
        r.text().await.unwrap(),
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nTickets, please.\n\n\
         00:00:04.000 --> 00:00:06.000\nWe arrive in Lisbon at dawn.\n"
    );
    // The subtitle link signs its own path: another track number is refused.
    let other = track.replace("/subtitles/0?", "/subtitles/1?");
    assert_eq!(app.get(&other, None).await.status(), 403);
    // Unsigned: a session that may watch the title; no such track is 404;
    // without a log-in, to the log-in page.
    let r = app
        .get(&format!("/media/{night}/subtitles/0"), Some(&viewer))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .get(&format!("/media/{night}/subtitles/7"), Some(&viewer))
        .await;
    assert_eq!(r.status(), 404);
    let r = app.get(&format!("/media/{night}/subtitles/0"), None).await;
    assert_eq!(r.status(), 303);
    // The catalog editor says what Play does, in words.
    let admin = app.login_as("editor@example.com", Role::Admin).await;
    let url = format!("/staff/catalog/{night}");
    let editor = || async { app.get(&url, Some(&admin)).await.text().await.unwrap() };
    let html = editor().await;
    assert!(
        html.contains(
            "Plays Night Train to Lisbon (2021).mkv from its library folder, with subtitles: English."
        ),
        "{html}"
    );
    // A subtitle file that is not SubRip or WebVTT says so instead of failing.
    std::fs::write(
        lib.join("Movies/Night Train to Lisbon (2021)/Night Train to Lisbon (2021).en.srt"),
        "not subtitles at all",
    )
    .unwrap();
    let r = app.get(&track, None).await;
    assert_eq!(r.status(), 404);
    // The file gone from the folder: the simulated player again.
    std::fs::remove_file(&movie).unwrap();
    let html = app
        .get(&format!("/watch/{night}"), Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"screen\""), "{html}");
    assert_eq!(app.get(&video, None).await.status(), 404);
    let html = editor().await;
    assert!(
        html.contains("is no longer in its library folder: viewers get the simulated player"),
        "{html}"
    );
}
