//! Support attachments (#22 item 5): images and PDFs in a conversation,
//! recognised by their bytes, served with safe headers to the conversation's
//! customer and staff only, shown inline to the agent and live, and removed
//! from disk with the account.

use crate::helpers::*;
use marquee_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// A real PNG of `w`×`h` pixels, made with the `image` crate.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 40) as u8, 200])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A `multipart/form-data` body: text fields first, then the file (with the
/// name and Content-Type the client claims).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----marqueeTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, ctype, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads through the API with a bearer token: status and JSON.
async fn upload(
    app: &TestApp,
    token: &str,
    conv: i64,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> (u16, Value) {
    let (ctype, body) = multipart(fields, file);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/support/conversations/{conv}/attachments"),
            Some(token),
        )
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn open_conversation(app: &TestApp, token: &str) -> i64 {
    let (s, v) = post(
        app,
        "/api/v1/support/conversations",
        token,
        json!({"body": "the player shows an error"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["conversation"]["id"].as_i64().unwrap()
}

/// The files in the attachments folder.
fn stored_files(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(app.state.config.data_dir.join("attachments")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn attachment_rows(app: &TestApp, conv: i64) -> usize {
    app.store()
        .conversation_attachments(conv, true)
        .await
        .unwrap()
        .len()
}

async fn page(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let r = app
        .client
        .get(app.url(path))
        .header("cookie", format!("marquee_session={token}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn images_and_pdfs_are_attached_and_the_agent_sees_them_inline() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let customer = app.signup("jane@example.com").await;
    let conv = open_conversation(&app, &customer).await;
    let mut staff_live = app.state.support.subscribe_staff();

    let picture = png(8, 6);
    // The client's name and type are not believed: the bytes decide.
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[("body", "here is the error")],
        Some(("../screen shot.txt", "text/html", &picture)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let a = &v["attachment"];
    assert_eq!(a["mime"], "image/png");
    assert_eq!(a["image"], true);
    assert_eq!(a["width"], 8);
    assert_eq!(a["height"], 6);
    assert_eq!(a["file_name"], "screen shot.png");
    assert_eq!(a["size_bytes"], picture.len());
    assert_eq!(v["message"]["body"], "here is the error");
    assert_eq!(v["message"]["attachments"][0]["id"], a["id"]);
    let png_id = a["id"].as_i64().unwrap();

    // The staff inbox hears of it live, with the attachment.
    let ev = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), staff_live.next())
            .await
            .unwrap()
            .unwrap()
        {
            marquee_server::support::Next::Event(e) if e.kind == "message" => break e,
            _ => continue,
        }
    };
    let live: Value = serde_json::from_str(&ev.staff_data).unwrap();
    assert_eq!(live["attachments"][0]["id"], png_id, "{live}");
    assert_eq!(live["attachments"][0]["mime"], "image/png");

    // A PDF without text: the file's name is the message.
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("invoice.pdf", "application/octet-stream", PDF)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["attachment"]["mime"], "application/pdf");
    assert_eq!(v["attachment"]["image"], false);
    assert_eq!(v["message"]["body"], "invoice.pdf");
    let pdf_id = v["attachment"]["id"].as_i64().unwrap();

    // The agent replies with an image of their own.
    let (s, v) = upload(
        &app,
        &agent,
        conv,
        &[("body", "like this?")],
        Some(("x.png", "image/png", &png(3, 3))),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["message"]["author_kind"], "agent");

    // The agent's view: the image as a thumbnail linking to the full
    // image, the PDF as a download link with its size.
    let (s, html) = page(
        &app,
        &agent,
        &format!("/staff/support/conversations/{conv}"),
    )
    .await;
    assert_eq!(s, 200);
    let url = format!("/api/v1/support/attachments/{png_id}");
    assert!(
        html.contains(&format!("<a class=\"attachment image\" href=\"{url}\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("<img src=\"{url}\" alt=\"screen shot.png\"")),
        "{html}"
    );
    assert!(html.contains("width=\"8\" height=\"6\""), "{html}");
    assert!(
        html.contains(&format!(
            "<a class=\"attachment file\" href=\"/api/v1/support/attachments/{pdf_id}\" download"
        )),
        "{html}"
    );
    assert!(html.contains(&format!("({} B)", PDF.len())), "{html}");
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");

    // The customer's transcript and the API show them too.
    let (s, html) = page(
        &app,
        &customer,
        &format!("/support/conversations/{conv}/transcript"),
    )
    .await;
    assert_eq!(s, 200);
    assert!(html.contains(&format!("<img src=\"{url}\"")), "{html}");
    let msgs = get(
        &app,
        &format!("/api/v1/support/conversations/{conv}/messages"),
        &customer,
    )
    .await;
    let with: Vec<&Value> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["attachments"].is_array())
        .collect();
    assert_eq!(with.len(), 3, "{msgs}");
    assert_eq!(stored_files(&app).len(), 3);
}

#[tokio::test]
async fn only_real_images_and_pdfs_are_accepted() {
    let app = TestApp::builder().start().await;
    let customer = app.signup("jane@example.com").await;
    let conv = open_conversation(&app, &customer).await;
    let mut png_then_garbage = b"\x89PNG\r\n\x1a\n".to_vec();
    png_then_garbage.extend(std::iter::repeat_n(0x41u8, 4096));
    let mut truncated = png(40, 40);
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "html renamed to png",
            "image/png",
            b"<!doctype html><html><script>alert(document.cookie)</script></html>".to_vec(),
        ),
        (
            "drawing.svg",
            "image/svg+xml",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".to_vec(),
        ),
        ("header.png", "image/png", png_then_garbage),
        ("half.png", "image/png", truncated),
        ("empty.png", "image/png", Vec::new()),
        (
            "script.pdf",
            "application/pdf",
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
        ),
    ];
    for (name, ctype, bytes) in &cases {
        let (s, v) = upload(&app, &customer, conv, &[], Some((name, ctype, bytes))).await;
        assert_eq!(s, 400, "{name}: {v}");
        assert_eq!(v["error"]["field"], "file", "{name}: {v}");
    }
    // No file at all, and a customer writing an internal note.
    let (s, v) = upload(&app, &customer, conv, &[("body", "hi")], None).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("file")),
        "{v}"
    );
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[("internal", "true")],
        Some(("a.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("internal")),
        "{v}"
    );
    // Not multipart at all.
    let (s, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{conv}/attachments"),
        &customer,
        json!({"file": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("file")),
        "{v}"
    );
    assert_eq!(attachment_rows(&app, conv).await, 0);
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
}

#[tokio::test]
async fn size_and_count_limits() {
    let mut config = marquee_server::Config::default();
    config.support.attachment_max_bytes = 2048;
    config.support.attachments_per_conversation = 1;
    let app = TestApp::builder().config(config).start().await;
    let customer = app.signup("jane@example.com").await;
    let conv = open_conversation(&app, &customer).await;
    let mut big = PDF.to_vec();
    big.extend(std::iter::repeat_n(b' ', 4096));
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("big.pdf", "application/pdf", &big)),
    )
    .await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["field"], "file", "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
    // Far over the server's general body limit too: still the 413 on `file`.
    let huge = vec![b'%'; 1200 * 1024];
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("huge.pdf", "application/pdf", &huge)),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (413, Some("file")),
        "{v}"
    );
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("a.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("b.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["field"], "file", "{v}");
    assert_eq!(attachment_rows(&app, conv).await, 1);
    assert_eq!(stored_files(&app).len(), 1, "{:?}", stored_files(&app));
}

#[tokio::test]
async fn downloads_are_for_the_conversation_only_and_never_run() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let customer = app.signup("jane@example.com").await;
    let other = app.signup("mallory@example.com").await;
    let conv = open_conversation(&app, &customer).await;
    let picture = png(5, 4);
    let (_, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("pic.png", "text/html", &picture)),
    )
    .await;
    let png_id = v["attachment"]["id"].as_i64().unwrap();
    let (_, v) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("résumé (x).pdf", "text/html", PDF)),
    )
    .await;
    let pdf_id = v["attachment"]["id"].as_i64().unwrap();
    // An internal note's file: staff only.
    let (s, v) = upload(
        &app,
        &agent,
        conv,
        &[("internal", "true")],
        Some(("note.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let note_id = v["attachment"]["id"].as_i64().unwrap();

    let fetch = |id: i64, token: Option<String>| {
        let app = &app;
        async move {
            app.get(
                &format!("/api/v1/support/attachments/{id}"),
                token.as_deref(),
            )
            .await
        }
    };
    for id in [png_id, pdf_id] {
        assert_eq!(fetch(id, None).await.status(), 401);
        assert_eq!(fetch(id, Some(other.clone())).await.status(), 404);
        assert_eq!(fetch(id, Some(agent.clone())).await.status(), 200);
    }
    assert_eq!(fetch(note_id, Some(customer.clone())).await.status(), 404);
    assert_eq!(fetch(note_id, Some(agent.clone())).await.status(), 200);
    assert_eq!(fetch(9999, Some(agent.clone())).await.status(), 404);

    let r = fetch(png_id, Some(customer.clone())).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline; filename=\"pic.png\""));
    assert_eq!(r.bytes().await.unwrap().as_ref(), picture.as_slice());

    let r = fetch(pdf_id, Some(customer.clone())).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    let d = h["content-disposition"].to_str().unwrap();
    assert_eq!(
        d,
        "attachment; filename=\"r_sum_ (x).pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%28x%29.pdf"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);

    // Another customer cannot post into the conversation either.
    let (s, _) = upload(
        &app,
        &other,
        conv,
        &[],
        Some(("a.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 403);
    // Anonymous uploads are 401.
    let (ctype, body) = multipart(&[], Some(("a.pdf", "application/pdf", PDF)));
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/support/conversations/{conv}/attachments"),
            None,
        )
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn page_forms_check_the_csrf_token_before_the_file() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let viewer = app.signup("jane@example.com").await;
    let conv = open_conversation(&app, &viewer).await;
    let staff_path = format!("/staff/support/conversations/{conv}");
    let (_, html) = page(&app, &agent, &staff_path).await;
    let csrf = field_of(&html, "csrf");
    assert!(!csrf.is_empty());
    let send = |path: String, token: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (ctype, body) = multipart(&f, Some(("p.pdf", "application/pdf", PDF)));
            let r = app
                .client
                .post(app.url(&path))
                .header("cookie", format!("marquee_session={token}"))
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string()),
            )
        }
    };
    let action = format!("{staff_path}/attachments");
    // No token, a wrong one, the token after the file: refused, nothing kept.
    let (s, _) = send(action.clone(), agent.clone(), vec![]).await;
    assert_eq!(s, 403);
    let (s, _) = send(
        action.clone(),
        agent.clone(),
        vec![("csrf", "A".repeat(43))],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = send(
        action.clone(),
        agent.clone(),
        vec![("body", "x".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(attachment_rows(&app, conv).await, 0);
    // The viewer cannot use the staff form; anonymous is sent to log in.
    let (_, vhtml) = page(
        &app,
        &viewer,
        &format!("/support/conversations/{conv}/transcript"),
    )
    .await;
    let vcsrf = field_of(&vhtml, "csrf");
    let (s, _) = send(
        action.clone(),
        viewer.clone(),
        vec![("csrf", vcsrf.clone())],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = send(action.clone(), "nobody".into(), vec![]).await;
    assert_eq!(s, 303);
    // With the token first: stored, and back to the conversation.
    let (s, loc) = send(
        action.clone(),
        agent.clone(),
        vec![("csrf", csrf.clone()), ("body", "the form".into())],
    )
    .await;
    assert_eq!((s, loc.as_deref()), (303, Some(staff_path.as_str())));
    // The customer's form on the transcript page.
    let (s, loc) = send(
        format!("/support/conversations/{conv}/attachments"),
        viewer.clone(),
        vec![("csrf", vcsrf)],
    )
    .await;
    assert_eq!(s, 303, "{loc:?}");
    assert_eq!(attachment_rows(&app, conv).await, 2);
}

#[tokio::test]
async fn deleting_the_account_removes_its_files_and_the_export_lists_them() {
    let app = TestApp::builder().start().await;
    let customer = app.signup("jane@example.com").await;
    let keep = app.signup("kept@example.com").await;
    let conv = open_conversation(&app, &customer).await;
    let kept_conv = open_conversation(&app, &keep).await;
    let (s, _) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("jane-passport.png", "image/png", &png(4, 4))),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = upload(
        &app,
        &customer,
        conv,
        &[],
        Some(("jane-bill.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = upload(
        &app,
        &keep,
        kept_conv,
        &[],
        Some(("kept.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(stored_files(&app).len(), 3);

    let export = get(&app, "/api/v1/account/export", &customer).await;
    let text = export.to_string();
    assert!(text.contains("jane-passport.png"), "{text}");
    assert!(text.contains("jane-bill.pdf"), "{text}");
    assert!(!text.contains("kept.pdf"), "{text}");

    let (s, v) = post(
        &app,
        "/api/v1/account/delete",
        &customer,
        json!({"password": PASSWORD}),
    )
    .await;
    assert!(s < 300, "{s} {v}");
    assert_eq!(attachment_rows(&app, conv).await, 0);
    let left = stored_files(&app);
    assert_eq!(left.len(), 1, "{left:?}");
    let kept = app
        .store()
        .conversation_attachments(kept_conv, true)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(left[0], kept[0].storage_key);
}
