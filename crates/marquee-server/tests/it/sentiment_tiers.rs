//! #20: the accurate sentiment tier in a running server. Posts the fast
//! model is unsure about are relabelled by the encoder in the background;
//! an encoder that is missing or broken leaves the fast tier serving, says
//! why on the dashboard, and is picked up once repaired.

use crate::helpers::{now_ms, TestApp};
use crate::listening::{admin_and_token, ingest, page, post};
use marquee_domain::listening::{LabelSource, Post};
use marquee_encoder::{fine_tune, train_head, Encoder, Ensemble, FineTuneConfig, Head, HeadConfig};
use marquee_server::Config;
use marquee_testkit::tiny_encoder::{self, Spec};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A tiny checkpoint in `dir` and a head trained on it, written to `head`.
fn checkpoint_and_head(dir: &Path, head: &Path) -> (Encoder, Head) {
    checkpoint_and_head_of(&Spec::default(), dir, head)
}

/// [`checkpoint_and_head`] of the checkpoint `spec` describes.
fn checkpoint_and_head_of(spec: &Spec, dir: &Path, head: &Path) -> (Encoder, Head) {
    tiny_encoder::write_dir(dir, spec);
    let enc = Encoder::from_bytes(
        &tiny_encoder::config_json(spec),
        &tiny_encoder::tokenizer_json(),
        &tiny_encoder::weights(spec),
    )
    .unwrap();
    let (texts, labels) = tiny_encoder::labelled_texts();
    let emb = enc.embed_batch(&texts).unwrap();
    let h = train_head(&emb, &labels, &HeadConfig::default(), 3, enc.fingerprint()).unwrap();
    std::fs::write(head, h.to_bytes()).unwrap();
    (enc, h)
}

/// A tiny checkpoint in `dir` and a head that fine-tuned its last layer
/// (head file format 2), written to `head`.
fn checkpoint_and_tuned_head(dir: &Path, head: &Path) -> (Encoder, Head) {
    let (enc, _) = checkpoint_and_head(dir, head);
    let h = tuned_head(&enc, 3);
    std::fs::write(head, h.to_bytes()).unwrap();
    (enc, h)
}

/// A head that fine-tuned the tiny encoder's only layer, with `seed`.
fn tuned_head(enc: &Encoder, seed: u64) -> Head {
    let (texts, labels) = tiny_encoder::labelled_texts();
    let cfg = FineTuneConfig {
        epochs: 5,
        lr: 1e-2,
        batch: 8,
        layers: 1,
        ..FineTuneConfig::default()
    };
    let states = enc.states_below(&texts, cfg.layers).unwrap();
    let h = fine_tune(enc, &states, &labels, &cfg, seed, |_, _| {}).unwrap();
    assert_eq!(h.top_layers(), 1);
    h
}

/// A tiny checkpoint in `dir` and two fine-tuned heads (seeds 3 and 4) in
/// one ensemble file, written to `head`.
fn checkpoint_and_ensemble(dir: &Path, head: &Path) -> (Encoder, Ensemble) {
    let (enc, _) = checkpoint_and_head(dir, head);
    let ens = Ensemble::new(vec![tuned_head(&enc, 3), tuned_head(&enc, 4)]).unwrap();
    std::fs::write(head, ens.to_bytes()).unwrap();
    (enc, ens)
}

/// Which head file a test serves.
#[derive(Clone, Copy, PartialEq)]
enum Heads {
    /// A head on the frozen encoder.
    Plain,
    /// A head that fine-tuned the encoder's layer.
    Tuned,
    /// Two fine-tuned heads, averaged.
    Averaged,
}

fn config(dir: &Path, head: &Path) -> Config {
    let mut config = Config::default();
    config.listening.encoder = Some(dir.to_path_buf());
    config.listening.encoder_head = Some(head.to_path_buf());
    // Every post goes to the accurate tier.
    config.listening.encoder_below = 1.0;
    // The encoder alone labels (one test mixes in the fast model).
    config.listening.encoder_mix = 1.0;
    config.listening.model_check_ms = 100;
    config
}

/// The dashboard's sentence about the models.
async fn models_line(app: &TestApp, admin: &str) -> String {
    let (s, html) = page(app, "/listening", admin).await;
    assert_eq!(s, 200);
    let i = html.find("id=\"sentiment-model\"").unwrap();
    html[i..i + html[i..].find("</p>").unwrap()].to_string()
}

/// Polls the dashboard until its models line contains `want` (10 s).
async fn wait_for_line(app: &TestApp, admin: &str, want: &str) -> String {
    let mut line = String::new();
    for _ in 0..100 {
        line = models_line(app, admin).await;
        if line.contains(want) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the dashboard never said {want:?}: {line}");
}

async fn posts(app: &TestApp) -> Vec<Post> {
    app.store()
        .list_posts(&marquee_store::listening::PostQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn unsure_posts_are_relabelled_by_the_accurate_tier_in_the_background() {
    relabelled_posts_carry_the_tiers_label(1.0, Heads::Plain).await;
}

#[tokio::test]
async fn the_accurate_tier_blends_the_encoder_with_the_fast_model() {
    relabelled_posts_carry_the_tiers_label(0.5, Heads::Plain).await;
}

#[tokio::test]
async fn a_head_with_fine_tuned_layers_is_served_with_its_own_layers() {
    relabelled_posts_carry_the_tiers_label(1.0, Heads::Tuned).await;
}

#[tokio::test]
async fn an_ensemble_of_heads_is_served_averaged() {
    relabelled_posts_carry_the_tiers_label(0.5, Heads::Averaged).await;
}

/// Posts go through a server whose accurate tier weighs the encoder `mix`;
/// each ends up labelled by the encoder tier with the label that mix gives.
/// `heads`: which head file is served.
async fn relabelled_posts_carry_the_tiers_label(mix: f32, heads: Heads) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("encoder");
    std::fs::create_dir(&dir).unwrap();
    let head_path = tmp.path().join("head.bin");
    let (enc, head) = match heads {
        Heads::Plain => {
            let (enc, h) = checkpoint_and_head(&dir, &head_path);
            (enc, Ensemble::from(h))
        }
        Heads::Tuned => {
            let (enc, h) = checkpoint_and_tuned_head(&dir, &head_path);
            (enc, Ensemble::from(h))
        }
        Heads::Averaged => checkpoint_and_ensemble(&dir, &head_path),
    };
    let mut config = config(&dir, &head_path);
    config.listening.encoder_mix = mix;
    let app = TestApp::builder().config(config).start().await;
    let (admin, token) = admin_and_token(&app).await;
    let line = wait_for_line(&app, &admin, "labelled again by the accurate model").await;
    assert!(line.contains("bert encoder"), "{line}");
    // The tiny checkpoint has one layer, which the tuned head replaces.
    assert_eq!(
        line.contains("its only layer fine-tuned"),
        heads != Heads::Plain,
        "{line}"
    );
    assert_eq!(
        line.contains("2 separately trained models, averaged"),
        heads == Heads::Averaged,
        "{line}"
    );

    let texts = [
        "the show was great",
        "the movie is awful",
        "the show on at nine",
        "it is not good",
    ];
    let body = Value::Array(
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| post(&format!("t{i}"), "@a@x.social", t, now_ms() - 60_000))
            .collect(),
    );
    assert!(ingest(&app, &token, &body).await.status().is_success());

    let mut now = Vec::new();
    for _ in 0..100 {
        now = posts(&app).await;
        if now.len() == texts.len() && now.iter().all(|p| p.labelled_by == LabelSource::Encoder) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        now.iter().all(|p| p.labelled_by == LabelSource::Encoder),
        "{:?}",
        now.iter()
            .map(|p| (&p.text, p.labelled_by))
            .collect::<Vec<_>>()
    );
    // Each post carries the label this encoder and head (and, mixed in,
    // the fast model) give its text.
    let fast = app.state.listening.model();
    for p in &now {
        let want = head.predict_texts(&enc, &[p.text.as_str()]).unwrap()[0]
            .blend(&fast.predict(&p.text), mix);
        assert_eq!(
            p.sentiment,
            marquee_server::listening::sentiment_of(want.label),
            "{}",
            p.text
        );
        assert!(
            (p.score - want.score).abs() < 1e-4,
            "{} {}",
            p.score,
            want.score
        );
    }
    assert_eq!(app.store().encoder_queue_len().await.unwrap(), 0);
    wait_for_line(&app, &admin, "none is waiting").await;
    let (_, html) = page(&app, "/listening/posts", &admin).await;
    assert!(
        html.contains("accurate model"),
        "the post list names the tier"
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("marquee_sentiment_encoder_posts_total{outcome=\"labelled\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_broken_encoder_leaves_the_fast_tier_serving_until_it_is_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("encoder");
    std::fs::create_dir(&dir).unwrap();
    let head_path = tmp.path().join("head.bin");
    checkpoint_and_head(&dir, &head_path);
    let tokenizer = std::fs::read(dir.join("tokenizer.json")).unwrap();
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();

    let app = TestApp::builder()
        .config(config(&dir, &head_path))
        .start()
        .await;
    let (admin, token) = admin_and_token(&app).await;
    let line = wait_for_line(&app, &admin, "not loaded").await;
    assert!(line.contains("tokenizer.json"), "names the file: {line}");
    assert!(line.contains("the fast model labels every post"), "{line}");

    // Posts still get the fast label, and nothing waits for a tier that
    // cannot run.
    let body = Value::Array(vec![post(
        "f1",
        "@a@x.social",
        "the show was great",
        now_ms(),
    )]);
    assert!(ingest(&app, &token, &body).await.status().is_success());
    let now = posts(&app).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].labelled_by, LabelSource::Fast);
    assert_eq!(app.store().encoder_queue_len().await.unwrap(), 0);

    // Repaired while serving: picked up without a restart.
    std::fs::write(dir.join("tokenizer.json"), tokenizer).unwrap();
    wait_for_line(&app, &admin, "labelled again by the accurate model").await;
    let body = Value::Array(vec![post(
        "f2",
        "@a@x.social",
        "the movie is bad",
        now_ms(),
    )]);
    assert!(ingest(&app, &token, &body).await.status().is_success());
    let mut relabelled = false;
    for _ in 0..100 {
        relabelled = posts(&app)
            .await
            .iter()
            .any(|p| p.external_id == "f2" && p.labelled_by == LabelSource::Encoder);
        if relabelled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(relabelled);

    // A head trained for another encoder is refused, naming the head file;
    // the fast tier goes on.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let spec = Spec {
        seed: 99,
        ..Spec::default()
    };
    checkpoint_and_head_of(&spec, &other, &head_path);
    let line = wait_for_line(&app, &admin, "not loaded").await;
    assert!(line.contains("head.bin"), "{line}");
    assert!(line.contains("was not trained on"), "{line}");
}

#[tokio::test]
async fn a_missing_encoder_directory_is_reported_and_the_fast_tier_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-such-encoder");
    let head_path = tmp.path().join("head.bin");
    let app = TestApp::builder()
        .config(config(&dir, &head_path))
        .start()
        .await;
    let (admin, token) = admin_and_token(&app).await;
    let line = wait_for_line(&app, &admin, "not loaded").await;
    assert!(line.contains("no-such-encoder"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    let body = Value::Array(vec![post("m1", "@a@x.social", "love it", now_ms())]);
    assert!(ingest(&app, &token, &body).await.status().is_success());
    assert_eq!(posts(&app).await[0].labelled_by, LabelSource::Fast);

    // Without `[listening] encoder` the dashboard says nothing of it.
    let plain = TestApp::builder().start().await;
    let admin = plain
        .login_as("admin@example.com", marquee_domain::Role::Admin)
        .await;
    let line = models_line(&plain, &admin).await;
    assert!(!line.contains("accurate model"), "{line}");
}
