//! The voice of the customer around an idea: matching social posts with their volume and
//! sentiment, through the API, the idea page fragment and the listening drill-down.

use crate::helpers::{error_of, now_ms, TestApp};
use marquee_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn staff_hear_what_customers_say_about_an_idea() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let r = app
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "feed"}),
        )
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post_json(
            "/api/v1/ideas",
            Some(&viewer),
            &json!({"title": "Offline downloads on the TV app", "tags": ["downloads"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let idea: Value = r.json().await.unwrap();
    let id = idea["id"].as_i64().unwrap();
    let now = now_ms();
    let texts = [
        // about it: two title words, or the tag
        (
            "1",
            "I hate that offline downloads don't work, awful",
            now - 20 * DAY,
        ),
        (
            "2",
            "Download limits are terrible and annoying",
            now - 2 * DAY,
        ),
        (
            "3",
            "love the offline mode, great downloads <script>x</script>",
            now - DAY,
        ),
        // not about it
        ("4", "the tv app crashed, awful", now - DAY),
        ("5", "offline is fine", now - DAY),
        // about it, but older than 30 days
        ("6", "offline downloads when?", now - 40 * DAY),
    ];
    let posts: Vec<Value> = texts
        .iter()
        .map(|(i, t, at)| {
            json!({"source": "test", "external_id": i, "author": "@a@x", "text": t, "created_at": at})
        })
        .collect();
    let r = app
        .post_json("/api/v1/posts", Some(&token), &json!(posts))
        .await;
    assert!(r.status().is_success(), "{}", r.status());

    // Support: one conversation where the customer mentions it twice (counted once), one
    // where only the agent does (not a customer's words), one about something else.
    let other = app.login_as("other@example.com", Role::Viewer).await;
    let third = app.login_as("third@example.com", Role::Viewer).await;
    let open = |token: String, body: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post_json(
                    "/api/v1/support/conversations",
                    Some(&token),
                    &json!({"body": body}),
                )
                .await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }
    };
    let c1 = open(
        viewer.clone(),
        "Offline downloads stopped working on my TV <b>help</b>",
    )
    .await;
    let c1_id = c1["conversation"]["id"].as_i64().unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/support/conversations/{c1_id}/messages"),
            Some(&viewer),
            &json!({"body": "still no offline downloads"}),
        )
        .await;
    assert!(r.status().is_success());
    let c2 = open(other.clone(), "My password reset mail never came").await;
    let c2_id = c2["conversation"]["id"].as_i64().unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/staff/support/conversations/{c2_id}/messages"),
            Some(&admin),
            &json!({"body": "Have you tried offline downloads?"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    open(third, "Subtitles are out of sync").await;

    let v: Value = app
        .get(&format!("/api/v1/staff/ideas/{id}/voice"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 3, "{v}");
    let latest: Vec<&str> = v["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(latest, vec!["3", "2", "1"]);
    let daily_total: i64 = v["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["total"].as_i64().unwrap())
        .sum();
    assert_eq!(daily_total, 3);
    assert_eq!(v["conversations"], 1, "{v}");
    let mentions = v["mentions"].as_array().unwrap();
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0]["conversation_id"], c1_id);
    assert_eq!(mentions[0]["body"], "still no offline downloads");
    let neg = v["negative"].as_i64().unwrap();
    let pos = v["positive"].as_i64().unwrap();
    assert!(neg >= 1 && pos >= 1, "{v}");
    // The newer half of the window is no worse than one old complaint: the trend is a
    // difference of means, consistent with the daily points.
    let mean = v["mean_score"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&mean));
    // A longer window reaches the old post.
    let v90: Value = app
        .get(
            &format!("/api/v1/staff/ideas/{id}/voice?days=90"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v90["total"], 4);

    // Bad input and roles.
    let (s, _, field) = error_of(
        app.get(
            &format!("/api/v1/staff/ideas/{id}/voice?days=0"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("days")));
    let r = app
        .get("/api/v1/staff/ideas/9999/voice", Some(&admin))
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .get(&format!("/api/v1/staff/ideas/{id}/voice"), Some(&viewer))
        .await;
    assert_eq!(r.status(), 403);

    // The listening drill-down lists exactly the matching posts, and text search
    // narrows it further.
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["external_id"].as_str().unwrap().to_string())
            .collect()
    };
    let all: Value = app
        .get(&format!("/api/v1/listening/posts?idea={id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(all), vec!["3", "2", "1", "6"]);
    let angry: Value = app
        .get(
            &format!("/api/v1/listening/posts?idea={id}&q=awful"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(angry), vec!["1"]);
    let r = app
        .get("/api/v1/listening/posts?idea=9999", Some(&admin))
        .await;
    assert_eq!(r.status(), 404);
    let words: Value = app
        .get("/api/v1/listening/posts?q=CRASHED", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(words), vec!["4"]);

    // The idea page asks for the fragment; the fragment escapes post text and links
    // every bar to its posts.
    let page = app
        .req(Method::GET, &format!("/ideas/{id}"), Some(&admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("hx-get=\"/staff/ideas/{id}/voice\"")));
    let frag = app
        .req(
            Method::GET,
            &format!("/staff/ideas/{id}/voice"),
            Some(&admin),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(frag.contains("data-total=\"3\""), "{frag}");
    assert!(frag.contains("&#60;script&#62;x") || frag.contains("&lt;script&gt;x"));
    assert!(!frag.contains("<script>x"));
    assert!(frag.contains(&format!("idea={id}")));
    assert!(frag.contains(&format!("/staff/support/conversations/{c1_id}")));
    assert!(!frag.contains(&format!("/staff/support/conversations/{c2_id}")));
    let viewer_page = app
        .req(Method::GET, &format!("/ideas/{id}"), Some(&viewer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!viewer_page.contains("/voice"));
    let r = app
        .req(
            Method::GET,
            &format!("/staff/ideas/{id}/voice?days=x"),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
