//! Headless Chromium through chromedriver (fantoccini).

use crate::helpers::{TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver process, killed on drop.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver, or returns None when it is not installed outside CI
/// (in CI, `.ci/run` installs it and a missing driver fails the test).
pub async fn start_driver() -> Option<Driver> {
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = match Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver is required in CI: {e}"
            );
            eprintln!("skipping browser test: {bin} not found ({e})");
            return None;
        }
    };
    let driver = Driver { child, port };
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

pub async fn browser(driver: &Driver) -> Client {
    browser_sized(driver, 1280, 900).await
}

/// A browser whose window is `width` × `height` CSS pixels, keeping its
/// console for [`crate::ui`]'s checks.
pub async fn browser_sized(driver: &Driver, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    let args = serde_json::json!([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        format!("--window-size={width},{height}")
    ]);
    let mut chrome = serde_json::json!({ "args": args });
    if let Ok(bin) = std::env::var("CHROMIUM") {
        chrome["binary"] = serde_json::Value::String(bin);
    } else if std::path::Path::new("/usr/bin/chromium").exists() {
        chrome["binary"] = serde_json::Value::String("/usr/bin/chromium".into());
    }
    caps.insert("goog:chromeOptions".into(), chrome);
    caps.insert(
        "goog:loggingPrefs".into(),
        serde_json::json!({ "browser": "ALL" }),
    );
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap()
}

pub(crate) async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

/// Fills in and submits the log-in form; callers wait for the page they
/// expect next.
pub(crate) async fn log_in(c: &Client, app: &TestApp, email: &str, password: &str) {
    submit_login(c, &app.url("/login"), email, password).await;
}

/// The same, from `/login?next=NEXT`: the site sends the browser to `next`.
pub(crate) async fn log_in_then(
    c: &Client,
    app: &TestApp,
    email: &str,
    password: &str,
    next: &str,
) {
    submit_login(c, &app.url(&format!("/login?next={next}")), email, password).await;
}

async fn submit_login(c: &Client, url: &str, email: &str, password: &str) {
    c.goto(url).await.unwrap();
    wait_for(c, "input[name=email]")
        .await
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Polls until the element's text satisfies `ok` (navigation may swap the
/// page under us, so stale elements are retried), and returns the text.
pub async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: text never matched (last {last:?})");
}

#[tokio::test]
async fn browser_signup_profiles_genre_title() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::builder().demo().start().await;
    let c = browser(&driver).await;
    let run = async {
        c.goto(&app.url("/signup")).await.unwrap();
        wait_for(&c, "input[name=email]")
            .await
            .send_keys("web@example.com")
            .await
            .unwrap();
        c.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("input[name=profile_name]"))
            .await
            .unwrap()
            .send_keys("Web")
            .await
            .unwrap();
        c.find(Locator::Css("#signup-submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // A new account starts by picking titles it likes.
        wait_text(&c, "main h1", |t| t == "What do you like?").await;
        wait_text(&c, "#pick-count", |t| t == "0 of 3 picked").await;
        // The counter follows the ticks; two are not enough, and they stay
        // ticked when the page says so.
        let picks = c
            .find_all(Locator::Css("#onboarding-form input[name=title_id]"))
            .await
            .unwrap();
        assert!(picks.len() >= 3);
        for p in &picks[..2] {
            p.click().await.unwrap();
        }
        wait_text(&c, "#pick-count", |t| t == "2 of 3 picked").await;
        c.find(Locator::Css("#onboarding-save"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#onboarding-error").await;
        wait_text(&c, "#pick-count", |t| t == "2 of 3 picked").await;
        let ticked = c
            .find_all(Locator::Css(
                "#onboarding-form input[name=title_id]:checked",
            ))
            .await
            .unwrap();
        assert_eq!(ticked.len(), 2);
        c.find_all(Locator::Css(
            "#onboarding-form input[name=title_id]:not(:checked)",
        ))
        .await
        .unwrap()[0]
            .click()
            .await
            .unwrap();
        wait_text(&c, "#pick-count", |t| t == "3 of 3 picked").await;
        c.find(Locator::Css("#onboarding-save"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "main h1", |t| t == "Welcome back, Web").await;

        // A second profile, then switch to it.
        c.goto(&app.url("/profiles")).await.unwrap();
        wait_for(&c, "#new-profile-name")
            .await
            .send_keys("Kiddo")
            .await
            .unwrap();
        c.find(Locator::Css("#add-profile"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "button[data-profile=Kiddo]")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "main h1", |t| t == "Welcome, Kiddo").await;
        wait_text(&c, "#current-profile", |t| t == "Kiddo").await;

        // Open a genre, then a title.
        c.find(Locator::Css("section.genre-row h2 a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "main h1", |t| t == "Drama").await;
        wait_for(&c, "#genre-titles .card").await;
        let first = c
            .find(Locator::Css("#genre-titles .card .name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        c.find(Locator::Css("#genre-titles .card"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "#title-name", |t| t == first).await;
        // Thumbs up through htmx: the button turns on without a reload.
        c.find(Locator::Css("#thumbs button[value=up]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#thumbs button.on").await;
    };
    run.await;
    c.close().await.unwrap();
}
