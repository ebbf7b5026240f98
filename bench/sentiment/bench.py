#!/usr/bin/env python3
"""Side-by-side sentiment benchmark (protocol sentiment-v1): val AND shifted splits.

Systems: VADER (compound >= 0.05 positive, <= -0.05 negative), a scikit-learn
TF-IDF (word 1-2 + char 2-5 grams) LinearSVC, and Marquee's fast tier through
its release CLI (`marquee train sentiment` / `marquee eval sentiment --json`).

Evaluation sets, each with the training set the trained systems use for it:
  val                    TweetEval val (2,000); trained on all of TweetEval train.
  years-2013-15->2016    train lines from the 2016 SemEval files; trained on the
                         2013-2015 files (train_provenance.tsv). A shift in time.
  years-2014-16->2013    train lines from the 2013 files; trained on 2014-2016.
  probe                  bench/sentiment/probe/handwritten-reviews.csv: 60
                         HAND-WRITTEN review/app-review/editorial sentences (no
                         labelled review data exists offline). Small and written by
                         the developer: a smoke test of review-style text, not a
                         benchmark. Trained on all of TweetEval train.
The split definition is the one of `marquee_sentiment::shifted_splits` (the
year is read from the SemEval file name); the Rust side prints the same sizes.

With --encoder DIR (a checkpoint from encoder-model.sh), two more rows: Marquee's
accurate tier, the encoder's head alone and blended with the fast model
(--mix, as `[listening] encoder_mix` serves it). One `marquee train sentiment
--encoder DIR --shifted --probe` run trains the heads (on all of train for val
and the probe, on the other years for each shifted set, with the fast model
trained on the same part for the blend) and prints every score; throughput is
`marquee eval sentiment --encoder --threads 1` on val.

Run it pinned to one core (run.sh does `taskset -c 0`). Throughput is measured
on val, medians of --runs repetitions after load.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

LABELS = {"negative": 0, "neutral": 1, "positive": 2, "0": 0, "1": 1, "2": 2}


def read_split(d, split):
    with open(os.path.join(d, f"{split}_text.txt"), encoding="utf-8") as f:
        texts = f.read().split("\n")
    with open(os.path.join(d, f"{split}_labels.txt"), encoding="utf-8") as f:
        labels = [int(x) for x in f.read().split()]
    return texts[: len(labels)], np.array(labels)


def read_years(d, n):
    """SemEval collection year of each train line (None when unknown)."""
    years = []
    with open(os.path.join(d, "train_provenance.tsv"), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    col = rows[0].index("semeval_file")
    for r in rows[1:]:
        if not r:
            continue
        name = r[col].strip()
        y = name[len("twitter-"):len("twitter-") + 4] if name.startswith("twitter-") else ""
        years.append(int(y) if y.isdigit() else None)
    if len(years) != n:
        sys.exit(f"train_provenance.tsv has {len(years)} lines for {n} train texts")
    return years


def read_probe(path):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([LABELS[r["label"].strip().lower()] for r in rows])


def metrics(gold, pred):
    return {
        "n": int(len(gold)),
        "macro_recall": recall_score(gold, pred, average="macro"),
        "macro_f1": f1_score(gold, pred, average="macro"),
        "accuracy": accuracy_score(gold, pred),
        "confusion": confusion_matrix(gold, pred, labels=[0, 1, 2]).tolist(),
    }


def rate(fn, n_texts, runs):
    """Median (wall, CPU) texts/s over `runs` timed calls of fn() that each handle n_texts."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append(n_texts / (time.perf_counter() - t0))
        cpu.append(n_texts / max(time.thread_time() - c0, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def write_tweeteval(d, split, texts, labels):
    with open(os.path.join(d, f"{split}_text.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    with open(os.path.join(d, f"{split}_labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{int(l)}\n" for l in labels))


def marquee_eval(exe, args):
    out = subprocess.run([exe, "eval", "sentiment", *args, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--marquee", required=True, help="path to the release marquee binary")
    ap.add_argument("--probe", required=True, help="hand-written review probe CSV")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json-out")
    ap.add_argument("--encoder", help="encoder checkpoint directory (accurate tier rows)")
    ap.add_argument("--mix", type=float, default=0.5,
                    help="the encoder's weight in the blended accurate row")
    ap.add_argument("--embeddings-cache", help="reuse the encoder's train embeddings")
    ap.add_argument("--finetune-layers", type=int, default=6,
                    help="fine-tune the encoder's last N layers with the head (0: head only)")
    ap.add_argument("--finetune-epochs", type=int, default=None)
    ap.add_argument("--finetune-lr", type=float, default=None)
    ap.add_argument("--finetune-dropout", type=float, default=None)
    ap.add_argument("--finetune-pull", type=float, default=None)
    ap.add_argument("--members", type=int, default=1,
                    help="train N heads (seeds seed..seed+N-1) and serve their average")
    ap.add_argument("--train-threads", type=int, default=1,
                    help="threads for training the heads (timed rows always use one)")
    a = ap.parse_args()

    train_x, train_y = read_split(a.data, "train")
    val_x, val_y = read_split(a.data, "val")
    probe_x, probe_y = read_probe(a.probe)
    years = read_years(a.data, len(train_x))
    n = len(val_x)

    # name -> (training indices or None for all of train, eval texts, eval labels)
    def held(year):
        tr = [i for i, y in enumerate(years) if y is not None and y != year]
        ev = [i for i, y in enumerate(years) if y == year]
        return tr, [train_x[i] for i in ev], train_y[ev]

    sets = {"val": (None, val_x, val_y)}
    sets["years-2013-15->2016"] = held(2016)
    sets["years-2014-16->2013"] = held(2013)
    sets["probe (hand-written)"] = (None, probe_x, probe_y)
    for name, (tr, x, _) in sets.items():
        print(f"{name}: train {len(tr) if tr is not None else len(train_x)}, eval {len(x)}",
              file=sys.stderr)
    results = {}

    # VADER: no training, the same on every set.
    t0 = time.perf_counter()
    vader = SentimentIntensityAnalyzer()
    vader_load = time.perf_counter() - t0

    def vader_label(t):
        c = vader.polarity_scores(t)["compound"]
        return 2 if c >= 0.05 else (0 if c <= -0.05 else 1)

    r = {"sets": {}}
    for name, (_, x, y) in sets.items():
        r["sets"][name] = metrics(y, np.array([vader_label(t) for t in x]))
    v_single, v_cpu = rate(lambda: [vader_label(t) for t in val_x], n, a.runs)
    r.update(load_ms=vader_load * 1e3, single=v_single, batch=v_single,
             single_cpu=v_cpu, batch_cpu=v_cpu)
    results["VADER 3.3.2"] = r

    # TF-IDF + LinearSVC, one fit per distinct training set.
    def fit_svm(xs, ys):
        vec = FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                     min_df=2)),
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True,
                                     min_df=2)),
        ])
        svm = LinearSVC(C=0.5, class_weight="balanced")
        svm.fit(vec.fit_transform(xs), ys)
        return vec, svm

    r = {"sets": {}}
    t0 = time.perf_counter()
    vec, svm = fit_svm(train_x, train_y)
    r["train_s"] = time.perf_counter() - t0
    for name, (tr, x, y) in sets.items():
        if tr is None:
            v2, s2 = vec, svm
        else:
            v2, s2 = fit_svm([train_x[i] for i in tr], train_y[tr])
        r["sets"][name] = metrics(y, s2.predict(v2.transform(x)))

    def svm_batches():
        for i in range(0, n, 1000):
            svm.predict(vec.transform(val_x[i:i + 1000]))

    sub = val_x[:300]

    def svm_single():
        for t in sub:
            svm.predict(vec.transform([t]))

    s_batch, s_batch_cpu = rate(svm_batches, n, a.runs)
    s_single, s_single_cpu = rate(svm_single, len(sub), max(1, a.runs // 2))
    r.update(load_ms=float("nan"), single=s_single, batch=s_batch,
             single_cpu=s_single_cpu, batch_cpu=s_batch_cpu)
    results["TF-IDF w1-2+c2-5 LinearSVC"] = r

    # Marquee fast tier: the embedded model (trained on all of train, seed 42) for
    # val and the probe; for each shifted set, `marquee train sentiment` on its
    # training part (same defaults and seed), then `marquee eval sentiment`.
    r = {"sets": {}}
    runs = [marquee_eval(a.marquee, ["--text", os.path.join(a.data, "val_text.txt"),
                                     "--labels", os.path.join(a.data, "val_labels.txt")])
            for _ in range(a.runs)]
    r["sets"]["val"] = runs[0]["metrics"]
    r["model_sha256"] = runs[0]["model_sha256"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (tr, x, y) in sets.items():
            if name == "val":
                continue
            evdir = os.path.join(tmp, "eval")
            os.makedirs(evdir, exist_ok=True)
            write_tweeteval(evdir, "held", x, y)
            model_args = []
            if tr is not None:
                trdir = os.path.join(tmp, "train")
                os.makedirs(trdir, exist_ok=True)
                write_tweeteval(trdir, "train", [train_x[i] for i in tr], train_y[tr])
                model = os.path.join(tmp, "model.bin")
                subprocess.run([a.marquee, "train", "sentiment", "--data", trdir,
                                "--seed", str(a.seed), "--out", model],
                               check=True, capture_output=True, text=True)
                model_args = ["--model", model]
            rep = marquee_eval(a.marquee, ["--text", os.path.join(evdir, "held_text.txt"),
                                           "--labels", os.path.join(evdir, "held_labels.txt"),
                                           "--no-timing", *model_args])
            r["sets"][name] = rep["metrics"]
    tp = [x["throughput"] for x in runs]
    r.update(
        load_ms=statistics.median(t["load_ms"] for t in tp),
        single=statistics.median(t["single_texts_per_s"] for t in tp),
        batch=statistics.median(t["batch_1000_texts_per_s"] for t in tp),
        single_cpu=statistics.median(t["single_texts_per_cpu_s"] or 0.0 for t in tp),
        batch_cpu=statistics.median(t["batch_1000_texts_per_cpu_s"] or 0.0 for t in tp),
    )
    results["Marquee fast (sentiment-v2)"] = r

    if a.encoder:
        results.update(accurate_rows(a, sets))

    names = list(sets)
    print(f"macro-recall; throughput on TweetEval val ({n} texts), one core, medians of {a.runs} runs")
    print("texts/s: wall clock, and per CPU-second of the measuring thread (robust to a busy machine)")
    head = "".join(f"{s[:20]:>22}" for s in names)
    print(f"{'system':30}{head} {'single/s':>9} {'batch/s':>9} {'single/cpu-s':>13} {'batch/cpu-s':>12}")
    for name, r in results.items():
        cells = "".join(f"{r['sets'][s]['macro_recall']:22.4f}" for s in names)
        print(f"{name:30}{cells} {r['single']:9.0f} {r['batch']:9.0f} "
              f"{r['single_cpu']:13.0f} {r['batch_cpu']:12.0f}")
    print("macro-F1:")
    for name, r in results.items():
        cells = "".join(f"{r['sets'][s]['macro_f1']:22.4f}" for s in names)
        print(f"{name:30}{cells}")
    mq = results["Marquee fast (sentiment-v2)"]
    for name, r in results.items():
        if name.startswith("Marquee"):
            continue
        diffs = ", ".join(f"{s} {mq['sets'][s]['macro_recall'] - r['sets'][s]['macro_recall']:+.4f}"
                          for s in names)
        print(f"Marquee vs {name}: macro-recall {diffs}; "
              f"single {mq['single_cpu'] / r['single_cpu']:.1f}x, "
              f"batch {mq['batch_cpu'] / r['batch_cpu']:.1f}x (CPU)")
    print("confusion on the shifted sets (rows gold neg/neu/pos, cols predicted):")
    for name, r in results.items():
        print(f"  {name}: " + "; ".join(f"{s} {r['sets'][s]['confusion']}" for s in names[1:3]))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=2)


SCORE = re.compile(r"^(?P<name>.+?)\s+macro-recall (?P<r>[0-9.]+)\s+macro-F1 (?P<f>[0-9.]+)"
                   r"\s+accuracy (?P<a>[0-9.]+)")


def accurate_rows(a, sets):
    """The accurate tier's rows: scores printed by one `train sentiment --encoder
    --shifted --probe` run, throughput from `eval sentiment --encoder`."""
    with tempfile.TemporaryDirectory() as tmp:
        head = os.path.join(tmp, "head.bin")
        cmd = [a.marquee, "train", "sentiment", "--encoder", a.encoder, "--data", a.data,
               "--seed", str(a.seed), "--shifted", "--probe", a.probe, "--out", head,
               "--threads", str(a.train_threads)]
        if a.embeddings_cache:
            cmd += ["--embeddings-cache", a.embeddings_cache]
        cmd += ["--finetune-layers", str(a.finetune_layers), "--members", str(a.members)]
        if a.finetune_layers:
            if a.finetune_epochs is not None:
                cmd += ["--finetune-epochs", str(a.finetune_epochs)]
            if a.finetune_lr is not None:
                cmd += ["--finetune-lr", str(a.finetune_lr)]
            if a.finetune_dropout is not None:
                cmd += ["--finetune-dropout", str(a.finetune_dropout)]
            if a.finetune_pull is not None:
                cmd += ["--finetune-pull", str(a.finetune_pull)]
        print("training the encoder heads (embeds all of train once; cached with "
              "--embeddings-cache)", file=sys.stderr)
        # Training is not timed: let it use every core even though this script
        # is pinned to one (the timed rows below stay on one core).
        widen = (lambda: os.sched_setaffinity(0, range(os.cpu_count() or 1))) \
            if a.train_threads > 1 else None
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             preexec_fn=widen).stdout
        scores = {}
        for line in out.splitlines():
            m = SCORE.match(line)
            if m:
                scores[m["name"]] = {"macro_recall": float(m["r"]), "macro_f1": float(m["f"]),
                                     "accuracy": float(m["a"]), "confusion": None}

        def pick(set_name, mix):
            want = f"{mix:g}" if mix is not None else ""
            for k, v in scores.items():
                base, _, m = k.partition(" mix ")
                # With --members, each head alone is also scored: the
                # served average is the line without " head k/n".
                if m != want or re.search(r" head \d+/\d+$", base):
                    continue
                if (set_name == "val" and base == "val") \
                        or (set_name.startswith("probe") and base.startswith("probe ")) \
                        or base.startswith(f"shifted {set_name} "):
                    return v
            raise SystemExit(f"no score for {set_name} (mix {want or 'none'}) in:\n{out}")

        rows = {}
        for label, mix in [("Marquee accurate (encoder)", None),
                           (f"Marquee accurate (mix {a.mix:g})", a.mix)]:
            runs = []
            for _ in range(max(1, min(a.runs, 3))):
                args = ["--encoder", a.encoder, "--head", head, "--threads", "1",
                        "--text", os.path.join(a.data, "val_text.txt"),
                        "--labels", os.path.join(a.data, "val_labels.txt")]
                if mix is not None:
                    args += ["--mix", str(mix)]
                runs.append(marquee_eval(a.marquee, args))
            tp = [x["throughput"] for x in runs]
            rate_wall = statistics.median(t["texts_per_s"] for t in tp)
            rate_cpu = statistics.median(t["texts_per_cpu_s"] or 0.0 for t in tp)
            r = {"sets": {name: pick(name, mix) for name in sets},
                 "val_from_eval": runs[0]["metrics"]["macro_recall"],
                 "load_ms": statistics.median(t["load_ms"] for t in tp),
                 "single": rate_wall, "batch": rate_wall,
                 "single_cpu": rate_cpu, "batch_cpu": rate_cpu}
            rows[label] = r
        return rows


if __name__ == "__main__":
    sys.exit(main())
