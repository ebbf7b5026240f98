//! #20: staff corrections made in a running server become training data
//! for `marquee train sentiment --corrections`, and change the next model.

use crate::common::{bin, http, ingest_token, json, kill9, login, now_ms, start};
use marquee_sentiment::{Label, Model};
use std::path::Path;

/// A small TweetEval-format directory: clear positives, negatives and
/// neutrals that never mention the corrected words.
fn tiny_tweeteval(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    let mut labels = String::new();
    for i in 0..40 {
        for (t, l) in [
            (format!("i love this show so much {i}"), 2),
            (format!("what a wonderful film, great night {i}"), 2),
            (format!("i hate this, awful and boring {i}"), 0),
            (format!("terrible service, so bad {i}"), 0),
            (format!("the episode airs on friday at nine {i}"), 1),
            (format!("season two is listed for the spring {i}"), 1),
        ] {
            text.push_str(&t);
            text.push('\n');
            labels.push_str(&format!("{l}\n"));
        }
    }
    std::fs::write(dir.join("train_text.txt"), text).unwrap();
    std::fs::write(dir.join("train_labels.txt"), labels).unwrap();
}

fn train(dir: &Path, args: &[&str]) -> String {
    let out = bin(dir)
        .args(["train", "sentiment", "--data", "tweets", "--epochs", "3"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn load(path: &Path) -> Model {
    Model::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn staff_corrections_change_the_next_trained_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tiny_tweeteval(&dir.join("tweets"));
    let corrected = [
        "qwikster split means two websites and two bills",
        "two bills for dvds and streaming now, qwikster",
        "qwikster qwikster, really? two websites",
    ];

    // Posts come in, and an agent corrects their sentiment to negative.
    let (mut child, addr) = start(dir);
    let admin = login(&addr);
    let token = ingest_token(&addr, &admin);
    let body: Vec<serde_json::Value> = corrected
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"source": "test", "external_id": format!("c{i}"),
                "author": "@viewer@example.social", "text": t, "created_at": now_ms() - 60_000})
        })
        .collect();
    let (s, b) = http(
        &addr,
        "POST",
        "/api/v1/posts",
        Some(&token),
        &serde_json::Value::Array(body).to_string(),
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    let (s, b) = http(&addr, "GET", "/api/v1/listening/posts", Some(&admin), "").unwrap();
    assert_eq!(s, 200, "{b}");
    let listed = json(&b);
    let ids: Vec<i64> = listed["posts"]
        .as_array()
        .unwrap_or_else(|| listed.as_array().unwrap())
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{b}");
    for id in &ids {
        let (s, b) = http(
            &addr,
            "PUT",
            &format!("/api/v1/listening/posts/{id}/sentiment"),
            Some(&admin),
            r#"{"sentiment":"negative"}"#,
        )
        .unwrap();
        assert_eq!(s, 200, "{b}");
    }
    kill9(&mut child);

    // The same data and seed, with and without the corrections.
    train(dir, &["--out", "plain.bin"]);
    let text = train(dir, &["--corrections", "--out", "corrected.bin"]);
    assert!(text.contains("3 staff corrections"), "{text}");
    let plain = std::fs::read(dir.join("plain.bin")).unwrap();
    let with = std::fs::read(dir.join("corrected.bin")).unwrap();
    assert_ne!(plain, with, "the corrections changed the model file");
    let (plain, with) = (
        load(&dir.join("plain.bin")),
        load(&dir.join("corrected.bin")),
    );
    for t in corrected {
        let (p, w) = (plain.predict(t), with.predict(t));
        assert_eq!(w.label, Label::Negative, "{t}: {w:?}");
        assert!(
            w.probs[Label::Negative.id()] > p.probs[Label::Negative.id()] + 0.1,
            "{t}: {p:?} → {w:?}"
        );
    }
    // Unrelated text keeps its label.
    assert_eq!(with.predict("i love this show").label, Label::Positive);

    // Without --out, the model goes where the server serves it from, and
    // the same data and seed give the same file.
    let text = train(dir, &["--corrections"]);
    let served = dir.join("data").join("sentiment").join("model.bin");
    assert!(text.contains(&served.display().to_string()), "{text}");
    assert_eq!(
        std::fs::read(&served).unwrap(),
        std::fs::read(dir.join("corrected.bin")).unwrap()
    );
}

/// `train sentiment --encoder --finetune-layers 1` writes a head that
/// carries the fine-tuned layer (format 2), the same bytes for the same
/// seed, and `eval sentiment` scores with it.
#[test]
fn fine_tuned_encoder_heads_are_reproducible_and_evaluate() {
    use marquee_testkit::tiny_encoder::{self, Spec};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tiny_tweeteval(&dir.join("tweets"));
    std::fs::create_dir(dir.join("enc")).unwrap();
    tiny_encoder::write_dir(&dir.join("enc"), &Spec::default());
    let run = |seed: &str, out: &str| {
        let text = train(
            dir,
            &[
                "--encoder",
                "enc",
                "--finetune-layers",
                "1",
                "--finetune-epochs",
                "1",
                "--threads",
                "1",
                "--seed",
                seed,
                "--out",
                out,
            ],
        );
        assert!(text.contains("fine-tuned 1 layer(s)"), "{text}");
        std::fs::read(dir.join(out)).unwrap()
    };
    let a = run("5", "a.bin");
    assert_eq!(a, run("5", "b.bin"));
    let c = run("6", "c.bin");
    assert_ne!(a, c);
    let head = marquee_encoder::Head::from_bytes(&a).unwrap();
    assert_eq!(head.top_layers(), 1);
    // Without --finetune-layers the default (6) is capped at the
    // checkpoint's one layer.
    let text = train(
        dir,
        &["--encoder", "enc", "--threads", "1", "--out", "e.bin"],
    );
    assert!(text.contains("fine-tuned 1 layer(s)"), "{text}");
    assert_eq!(
        marquee_encoder::Head::from_bytes(&std::fs::read(dir.join("e.bin")).unwrap())
            .unwrap()
            .top_layers(),
        1
    );

    let out = bin(dir)
        .args([
            "eval",
            "sentiment",
            "--encoder",
            "enc",
            "--head",
            "a.bin",
            "--mix",
            "1",
            "--text",
            "tweets/train_text.txt",
            "--labels",
            "tweets/train_labels.txt",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("macro-recall"), "{text}");

    // --members 2: one file with two heads, the k-th trained with seed + k
    // (so the same heads as two single runs), served averaged.
    let text = train(
        dir,
        &[
            "--encoder",
            "enc",
            "--finetune-layers",
            "1",
            "--threads",
            "1",
            "--seed",
            "5",
            "--members",
            "2",
            "--out",
            "m.bin",
        ],
    );
    assert!(
        text.contains("fine-tuned 1 layer(s) and the head (2 run(s))"),
        "{text}"
    );
    let m = std::fs::read(dir.join("m.bin")).unwrap();
    let ens = marquee_encoder::Ensemble::from_bytes(&m).unwrap();
    assert_eq!(ens.members().len(), 2);
    assert_eq!(ens.members()[0].to_bytes(), a);
    assert_eq!(ens.members()[1].to_bytes(), c);
    let out = bin(dir)
        .args([
            "eval",
            "sentiment",
            "--encoder",
            "enc",
            "--head",
            "m.bin",
            "--mix",
            "1",
            "--text",
            "tweets/train_text.txt",
            "--labels",
            "tweets/train_labels.txt",
            "--json",
        ])
        .output()
        .unwrap();
    marquee_testkit::assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    use sha2::Digest;
    assert_eq!(
        v["head_sha256"].as_str(),
        Some(format!("{:x}", sha2::Sha256::digest(&m)).as_str())
    );
    assert_eq!(v["heads"], 2, "{v}");
    assert!(
        v["metrics"]["macro_recall"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{v}"
    );

    // --shifted-only: the two shifted splits' heads are fine-tuned and
    // scored (each with its blend), the head on all of train is not, and
    // nothing is written.
    let mut prov = String::from("line\ttweeteval_train_index\tstatus\tsemeval_file\n");
    for i in 0..240 {
        let year = 2013 + i % 4;
        prov.push_str(&format!(
            "{}\t{i}\texact\ttwitter-{year}test-A.tsv\n",
            i + 1
        ));
    }
    std::fs::write(dir.join("tweets/train_provenance.tsv"), prov).unwrap();
    let shifted_only = |more: &[&str]| {
        let mut args = vec![
            "--encoder",
            "enc",
            "--threads",
            "1",
            "--shifted",
            "--shifted-only",
        ];
        args.extend_from_slice(more);
        train(dir, &args)
    };
    let text = shifted_only(&["--finetune-pull", "0,0.5", "--out", "s.bin"]);
    assert!(
        text.contains("fine-tuned 1 layer(s) and the head (2 run(s))"),
        "{text}"
    );
    // One fine-tuning per split, each head scored as trained and pulled
    // halfway back.
    for split in ["years-2013-15->2016", "years-2014-16->2013"] {
        for pull in ["0", "0.5"] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("shifted {split} (train"))
                        && l.contains(&format!(") pull {pull} macro-recall"))),
                "{split} pull {pull}: {text}"
            );
        }
    }
    assert!(!text.contains("on 240 texts (train)"), "{text}");
    assert!(
        text.contains(
            "training only the shifted splits' heads, each on the other years of the 240 texts"
        ),
        "{text}"
    );
    assert!(!text.contains("training the head on"), "{text}");
    assert!(!dir.join("s.bin").exists());
    // With --members 3: three fine-tunings per split (six in all, more
    // than run at once), each head scored alone and then their average.
    let text = shifted_only(&["--members", "3"]);
    assert!(
        text.contains("fine-tuned 1 layer(s) and the head (6 run(s))"),
        "{text}"
    );
    for split in ["years-2013-15->2016", "years-2014-16->2013"] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("shifted {split} (train")))
            .collect();
        for what in [
            ") head 1/3 macro-recall",
            ") head 2/3 macro-recall",
            ") head 3/3 macro-recall",
            ") macro-recall",
        ] {
            assert!(
                lines.iter().any(|l| l.contains(what)),
                "{split} {what}: {text}"
            );
        }
    }

    // Too many layers for the checkpoint, or a bad fine-tuning or head
    // setting: an error naming the flag and its value before any hidden
    // states are computed, no head written.
    for (flag, value, says) in [
        (
            "--finetune-layers",
            "2",
            "--finetune-layers 2: the encoder has only 1 layer(s)",
        ),
        (
            "--finetune-dropout",
            "1.5",
            "--finetune-dropout 1.5: must be in [0, 1)",
        ),
        (
            "--finetune-lr",
            "0",
            "--finetune-lr 0: must be a finite number above 0",
        ),
        (
            "--finetune-layer-decay",
            "0",
            "--finetune-layer-decay 0: must be above 0 and at most 1",
        ),
        (
            "--finetune-warmup",
            "1",
            "--finetune-warmup 1: must be in [0, 1)",
        ),
        (
            "--finetune-smoothing",
            "1.5",
            "--finetune-smoothing 1.5: must be in [0, 1)",
        ),
        (
            "--finetune-token-cutoff",
            "1",
            "--finetune-token-cutoff 1: must be in [0, 1)",
        ),
        ("--lr", "0", "--lr 0: must be a finite number above 0"),
        (
            "--finetune-pull",
            "1",
            "--finetune-pull 1: must be in [0, 1)",
        ),
        (
            "--finetune-pull",
            "0,0.5",
            "several --finetune-pull values are compared only with --shifted-only",
        ),
        ("--members", "0", "0 is not in 1..=16"),
        ("--members", "17", "17 is not in 1..=16"),
    ] {
        let out = bin(dir)
            .args([
                "train",
                "sentiment",
                "--data",
                "tweets",
                "--encoder",
                "enc",
                "--threads",
                "1",
                flag,
                value,
                "--out",
                "f.bin",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("hidden states"), "{err}");
        assert!(!dir.join("f.bin").exists());
    }
}
