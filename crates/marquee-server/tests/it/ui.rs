//! Every page at phone and desktop width (#24), in headless Chromium: no
//! horizontal scrolling and no console errors at 360, 400 and 1,400 px, and
//! no serious or critical accessibility violation by axe-core at 400 and
//! 1,400 px, as a visitor, a viewer, an agent and an admin.
//!
//! axe-core comes from the npm registry: `.ci/run` installs it and points
//! `MARQUEE_TEST_AXE` at its `axe.min.js`. Without it the accessibility
//! check is skipped outside CI and fails in CI, like the browser itself.

use crate::browser::{browser_sized, log_in, start_driver, wait_for};
use crate::helpers::{admin_only, seeded_site, PASSWORD};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};

/// Chromium's console since the last read (chromedriver's log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type": "browser"}"#.into()),
        )
    }
}

/// axe-core's source, when installed (see the module's documentation).
fn axe_source() -> Option<String> {
    match std::env::var("MARQUEE_TEST_AXE") {
        Ok(path) => Some(
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("MARQUEE_TEST_AXE={path}: {e}")),
        ),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "MARQUEE_TEST_AXE (axe-core's axe.min.js) is required in CI"
            );
            eprintln!("skipping the axe-core check: MARQUEE_TEST_AXE is not set");
            None
        }
    }
}

/// axe-core's serious and critical violations on the page now shown, one
/// line each: the rule, its help text and the first elements it names.
async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.unwrap();
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.impact + ' ' + v.id + ' (' + v.help + '): ' +
                   v.nodes.slice(0, 4).map(n => n.target.join(' ') +
                     (n.failureSummary ? ' [' + n.failureSummary.split('\\n').slice(1, 2).join('').trim() + ']' : '')).join('; '))))
               .catch(e => done(['axe-core failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect()
}

/// What is wrong with the page now shown: wider than the window (with the
/// elements sticking out), or errors in the console.
async fn problems(c: &Client, width: u32) -> Vec<String> {
    let mut out = Vec::new();
    let v = c
        .execute(
            "const w = window.innerWidth;
             const sw = document.documentElement.scrollWidth;
             const out = [];
             if (sw > w) {
               for (const e of document.querySelectorAll('body *')) {
                 const r = e.getBoundingClientRect();
                 if (r.right > w + 1 && r.width > 0) {
                   const kids = Array.from(e.children).some(k => k.getBoundingClientRect().right > w + 1);
                   if (!kids) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                     (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
                     ' right=' + Math.round(r.right));
                 }
                 if (out.length > 6) break;
               }
             }
             return [sw, out];",
            vec![],
        )
        .await
        .unwrap();
    let sw = v[0].as_u64().unwrap_or(0);
    if sw > u64::from(width) {
        out.push(format!("{sw} px wide at {width}: {}", v[1]));
    }
    let here = c.current_url().await.unwrap().to_string();
    let log = c.issue_cmd(BrowserLog).await.unwrap();
    for e in log.as_array().into_iter().flatten() {
        let msg = e["message"].as_str().unwrap_or_default();
        // The document's own error status (a 404 page) is not a fault of
        // the page; anything else failing to load, or a script error, is.
        if e["level"] == "SEVERE" && !msg.starts_with(&format!("{here} - Failed to load resource"))
        {
            out.push(format!("console: {msg}"));
        }
    }
    out
}

/// Loads each page at each width; returns how many were whole pages (an
/// htmx fragment fetched on its own has no header and is not checked).
async fn walk(
    c: &Client,
    axe: Option<&str>,
    base: &str,
    who: &str,
    pages: &[String],
    found: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    // 360 px, the narrowest phone the site is made for, is checked for
    // overflow and console errors; axe runs at 400 and 1,400 px (contrast,
    // names and roles do not change between two phone widths).
    for (width, with_axe) in [(360u32, false), (400, true), (1400, true)] {
        c.set_window_size(width, 900).await.unwrap();
        for page in pages {
            c.goto(&format!("{base}{page}")).await.unwrap();
            wait_for(c, "body").await;
            if c.find(Locator::Css("header.top")).await.is_err() {
                let _ = c.issue_cmd(BrowserLog).await;
                continue;
            }
            checked += 1;
            for p in problems(c, width).await {
                found.push(format!("{who} {page} @{width}: {p}"));
            }
            if let Some(axe) = axe.filter(|_| with_axe) {
                for p in axe_violations(c, axe).await {
                    found.push(format!("{who} {page} @{width}: axe {p}"));
                }
            }
        }
    }
    checked
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_desktop_without_console_errors_or_axe_violations() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let axe = axe_source();
    let axe = axe.as_deref();
    let site = seeded_site().await;
    let app = &site.app;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let mut found = Vec::new();

    let c = browser_sized(&driver, 400, 900).await;
    if let Some(axe) = axe {
        // The check can fail: a picture without a text alternative on an
        // otherwise clean page is reported.
        c.goto(&format!("{base}/help")).await.unwrap();
        wait_for(&c, "body").await;
        c.execute(
            "const i = document.createElement('img'); i.src = '/static/icon.svg'; document.querySelector('main').append(i);",
            vec![],
        )
        .await
        .unwrap();
        let seen = axe_violations(&c, axe).await;
        assert!(
            seen.iter().any(|v| v.contains("image-alt")),
            "axe-core did not see a picture without alt: {seen:?}"
        );
    }
    let anonymous: Vec<String> = [
        "/",
        "/login",
        "/signup",
        "/forgot",
        "/help",
        "/genres",
        "/ideas",
        "/changelog",
        "/search?q=heat",
        "/no-such-page",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let mut checked = walk(&c, axe, base, "visitor", &anonymous, &mut found).await;
    c.close().await.unwrap();

    for (who, email, pages) in [
        ("viewer", "viewer@example.com", site.viewer_pages.clone()),
        (
            "agent",
            "agent@example.com",
            site.staff_pages
                .iter()
                .filter(|p| !admin_only(p))
                .cloned()
                .collect(),
        ),
        ("admin", "admin@example.com", site.staff_pages.clone()),
    ] {
        let c = browser_sized(&driver, 1400, 900).await;
        log_in(&c, app, email, PASSWORD).await;
        wait_for(&c, "#nav-account").await;
        checked += walk(&c, axe, base, who, &pages, &mut found).await;
        c.close().await.unwrap();
    }
    assert!(
        found.is_empty(),
        "{} problems:\n{}",
        found.len(),
        found.join("\n")
    );
    assert!(checked >= 150, "only {checked} pages checked");
}

/// What `script` returns for the CSS selector `css` (its `arguments[0]`).
async fn on_element(c: &Client, script: &str, css: &str) -> serde_json::Value {
    c.execute(script, vec![serde_json::Value::String(css.into())])
        .await
        .unwrap()
}

#[tokio::test]
async fn the_menu_collapses_on_a_phone_and_opens_with_its_button() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = crate::helpers::TestApp::builder().start().await;
    app.signup("phone@example.com").await;
    let c = browser_sized(&driver, 400, 900).await;
    log_in(&c, &app, "phone@example.com", PASSWORD).await;
    wait_for(&c, "#menu-button").await;
    let shown = |css: &'static str| {
        let c = c.clone();
        async move {
            on_element(
                &c,
                "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;",
                css,
            )
            .await
            .as_bool()
            .unwrap()
        }
    };
    assert!(
        !shown("#nav-account").await,
        "the menu starts closed on a phone"
    );
    assert!(
        shown("header.top form.search input").await,
        "search stays visible"
    );
    let button = c
        .find(fantoccini::Locator::Css("#menu-button"))
        .await
        .unwrap();
    button.click().await.unwrap();
    assert!(shown("#nav-account").await);
    assert_eq!(
        button.attr("aria-expanded").await.unwrap().as_deref(),
        Some("true")
    );
    // A desktop shows the links in the header and no Menu button.
    c.set_window_size(1400, 900).await.unwrap();
    c.refresh().await.unwrap();
    wait_for(&c, "header.top").await;
    assert!(shown("#nav-account").await);
    assert!(!shown("#menu-button").await);
    c.close().await.unwrap();

    // An admin's header at 1,400 px: the site's links and the account on one
    // row, the staff tools on a row of their own.
    let admin = browser_sized(&driver, 1400, 900).await;
    app.login_as("boss@example.com", marquee_domain::Role::Admin)
        .await;
    log_in(&admin, &app, "boss@example.com", PASSWORD).await;
    wait_for(&admin, "nav.staff-bar").await;
    let top = |css: &'static str| {
        let c = admin.clone();
        async move {
            on_element(
                &c,
                "return Math.round(document.querySelector(arguments[0]).getBoundingClientRect().top);",
                css,
            )
            .await
            .as_i64()
            .unwrap()
        }
    };
    // (Within a few pixels: the account's smaller text sits lower.)
    let row = top("#nav-ideas").await;
    assert!(
        (top("#nav-changelog").await - row).abs() < 8,
        "the main links wrapped"
    );
    assert!(
        (top("#nav-account").await - row).abs() < 8,
        "the account wrapped"
    );
    let staff = top("#nav-staff").await;
    assert!(
        staff > row,
        "staff tools on their own row: {staff} vs {row}"
    );
    assert_eq!(top("#nav-accounts").await, staff, "the staff row wrapped");
    admin.close().await.unwrap();
}

/// An action that cannot be undone asks first, in the page's dialog:
/// Cancel keeps the profile, the dialog's own button deletes it.
#[tokio::test]
async fn deleting_a_profile_asks_first_in_a_dialog() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = crate::helpers::TestApp::builder().start().await;
    let token = app.signup("confirm@example.com").await;
    let r = app
        .post_json(
            "/api/v1/profiles",
            Some(&token),
            &serde_json::json!({"name": "Theo"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c = browser_sized(&driver, 400, 900).await;
    log_in(&c, &app, "confirm@example.com", PASSWORD).await;
    c.goto(&app.url("/profiles")).await.unwrap();
    wait_for(&c, "form.danger-zone").await;
    let open = |c: Client| async move {
        c.execute(
            "return document.getElementById('confirm-dialog').open;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
    };
    let delete_theo = "form[data-confirm*='Theo'] button.danger";
    c.execute(
        "document.querySelectorAll('details.profile-edit').forEach(d => d.open = true);",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Css(delete_theo))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(open(c.clone()).await, "the dialog opens");
    let text = c
        .find(Locator::Css("#confirm-text"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Delete the profile Theo?"), "{text}");
    c.find(Locator::Css("#confirm-cancel"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(!open(c.clone()).await);
    let names = || async {
        app.get("/api/v1/profiles", Some(&token))
            .await
            .text()
            .await
            .unwrap()
    };
    assert!(names().await.contains("Theo"), "Cancel keeps it");
    c.find(Locator::Css(delete_theo))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let ok = c.find(Locator::Css("#confirm-ok")).await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "Delete Theo");
    ok.click().await.unwrap();
    wait_for(&c, "#toast").await;
    assert!(!names().await.contains("Theo"), "confirmed, it is gone");
    c.close().await.unwrap();
}
