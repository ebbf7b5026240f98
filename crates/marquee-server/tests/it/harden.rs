//! Hardening for the open internet (issue 19): redirects, connection
//! hygiene, costs of anonymous routes, lock-out, limits under concurrency.

use crate::helpers::{TestApp, PASSWORD};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

// ---------------------------------------------------------------------------
// Redirects.

/// `next` values as they appear in a query string or a form body (still
/// URL-encoded): each must leave the browser on this site.
const REDIRECT_PAYLOADS: &[&str] = &[
    "/%09/evil.example/x",
    "/%0a/evil.example/x",
    "/%0d/evil.example/x",
    "//evil.example",
    "///evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/\\evil.example",
    "%5C%5Cevil.example",
    "https://evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "/%0d%0aSet-Cookie:x",
    "/%0d%0aLocation:%20https://evil.example",
    "%2F%2Fevil.example",
    "%252F%252Fevil.example",
    "/..//evil.example",
    "/./%2e%2e//evil.example",
    "%09//evil.example",
    "%20//evil.example",
    "/%E2%80%AE/evil.example",
    "/%00/evil.example",
    "/%7F/evil.example",
    "http://user@evil.example",
    "/@evil.example",
];

/// Whether a `Location` (or a page's `next` field) keeps the browser on this
/// site: a path, not `//` or `/\`, no control characters, valid ASCII.
fn stays_on_site(to: &str) -> bool {
    to.starts_with('/')
        && !to.starts_with("//")
        && !to.starts_with("/\\")
        && to.bytes().all(|b| b.is_ascii_graphic())
}

fn cookies_of(r: &reqwest::Response) -> String {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn field_of(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).expect("no such field") + marker.len();
    html[i..i + html[i..].find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

async fn login_with_next(app: &TestApp, raw_next: &str) -> (u16, Option<String>, String) {
    let page = app.get(&format!("/login?next={raw_next}"), None).await;
    assert_eq!(page.status(), 200, "GET /login?next={raw_next}");
    let cookies = cookies_of(&page);
    let html = page.text().await.unwrap();
    let shown = field_of(&html, "next");
    let csrf = field_of(&html, "csrf");
    let body = format!(
        "csrf={csrf}&email=ann%40example.com&password={}&next={raw_next}",
        PASSWORD.replace(' ', "+")
    );
    let r = app
        .client
        .post(app.url("/login"))
        .header(COOKIE, cookies)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, shown)
}

#[tokio::test]
async fn redirect_after_login_stays_on_the_site() {
    let app = TestApp::builder().start().await;
    app.signup("ann@example.com").await;
    for raw in REDIRECT_PAYLOADS {
        let (status, location, shown) = login_with_next(&app, raw).await;
        assert_eq!(status, 303, "next={raw}: {location:?}");
        let location = location.unwrap();
        assert!(
            stays_on_site(&location),
            "next={raw} → Location {location:?}"
        );
        assert!(stays_on_site(&shown), "next={raw} → form field {shown:?}");
    }
    // A path on the site survives, query included.
    let (status, location, shown) = login_with_next(&app, "/ideas%3Fsort%3Dmy_votes").await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/ideas?sort=my_votes"));
    assert_eq!(shown, "/ideas?sort=my_votes");
}
