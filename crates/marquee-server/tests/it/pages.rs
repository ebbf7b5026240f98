use crate::helpers::{TestApp, PASSWORD};
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};

/// A minimal browser: keeps cookies and reads the CSRF token out of forms.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: vec![],
        }
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let s = v.to_str().unwrap();
            let kv = s.split(';').next().unwrap();
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String) {
        let r = self
            .app
            .client
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(r.headers());
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let r = self
            .app
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.absorb(r.headers());
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
}

pub(crate) fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("no csrf field") + 19;
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn signup_form_profiles_and_escaping() {
    let app = TestApp::builder().demo().start().await;
    let mut b = Browser::new(&app);
    let (s, html) = b.get("/signup").await;
    assert_eq!(s, 200);
    let csrf = csrf_in(&html);

    // A forged form without the token is refused and writes nothing.
    let (s, _, _) = b
        .post(
            "/signup",
            &[
                ("csrf", "forged"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(s, 403);
    assert!(app
        .store()
        .credentials("x@example.com")
        .await
        .unwrap()
        .is_none());

    let (s, loc, _) = b
        .post(
            "/signup",
            &[
                ("csrf", &csrf),
                ("email", "eve@example.com"),
                ("password", PASSWORD),
                ("profile_name", "Eve"),
            ],
        )
        .await;
    // A new account starts by picking titles it likes.
    assert_eq!((s, loc.as_deref()), (303, Some("/onboarding")));
    let (s, html) = b.get("/").await;
    assert_eq!(s, 200);
    assert!(html.contains("Welcome, Eve"));
    assert!(html.contains("Drama"));

    // A hostile profile name is escaped wherever it is shown.
    let (_, html) = b.get("/profiles").await;
    let csrf = csrf_in(&html);
    let evil = "<script>alert(1)</script>";
    let (s, _, _) = b
        .post("/profiles", &[("csrf", &csrf), ("name", evil)])
        .await;
    assert_eq!(s, 303);
    let (_, html) = b.get("/profiles").await;
    assert!(!html.contains(evil));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;"),
        "{html}"
    );

    // Search escapes the query it echoes.
    let (_, html) = b
        .get("/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
        .await;
    assert!(!html.contains("<img src=x"));

    // Title page with thumbs; thumbs need the token too.
    let id = app
        .store()
        .search_titles("heat", 1, &Default::default())
        .await
        .unwrap()[0]
        .id;
    let (s, html) = b.get(&format!("/titles/{id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("I like this"));
    let csrf = csrf_in(&html);
    let (s, _, _) = b
        .post(
            &format!("/titles/{id}/thumb"),
            &[("csrf", "nope"), ("thumb", "up")],
        )
        .await;
    assert_eq!(s, 403);
    let (s, _, _) = b
        .post(
            &format!("/titles/{id}/thumb"),
            &[("csrf", &csrf), ("thumb", "up")],
        )
        .await;
    assert_eq!(s, 303);
    let me = app
        .store()
        .credentials("eve@example.com")
        .await
        .unwrap()
        .unwrap();
    let p = app.store().profiles(me.account.id).await.unwrap()[0].id;
    assert_eq!(
        app.store().feedback(p, id).await.unwrap(),
        Some(marquee_domain::Thumb::Up)
    );
}

#[tokio::test]
async fn login_page_redirects_safely() {
    let app = TestApp::builder().start().await;
    app.signup("ann@example.com").await;
    let mut b = Browser::new(&app);
    let (_, html) = b.get("/login?next=//evil.example/").await;
    assert!(html.contains("name=\"next\" value=\"/\""));
    let csrf = csrf_in(&html);
    let (s, _, html) = b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "ann@example.com"),
                ("password", "bad password"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("wrong e-mail or password"));
    let (s, loc, _) = b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!((s, loc.as_deref()), (303, Some("/")));
    // Unknown pages are a 404 page, not a 500.
    let (s, html) = b.get("/titles/not-a-number").await;
    assert_eq!(s, 404);
    assert!(html.contains("404"));
    let (s, _) = b.get("/genres/No%20Such%20Genre").await;
    assert_eq!(s, 404);
}
