#!/usr/bin/env python3
"""Side-by-side sentiment benchmark (protocol sentiment-v1) on TweetEval val.

Systems: VADER (compound >= 0.05 positive, <= -0.05 negative), a scikit-learn
TF-IDF (word 1-2 + char 2-5 grams) LinearSVC trained on the same train split,
and Marquee through its release CLI (`marquee eval sentiment --json`).
Run it pinned to one core (run.sh does `taskset -c 0`). Timings are medians of
--runs repetitions, measured after load.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def read_split(d, split):
    with open(os.path.join(d, f"{split}_text.txt"), encoding="utf-8") as f:
        texts = f.read().split("\n")
    with open(os.path.join(d, f"{split}_labels.txt"), encoding="utf-8") as f:
        labels = [int(x) for x in f.read().split()]
    return texts[: len(labels)], np.array(labels)


def metrics(gold, pred):
    return {
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--marquee", required=True, help="path to the release marquee binary")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json-out")
    a = ap.parse_args()

    train_x, train_y = read_split(a.data, "train")
    val_x, val_y = read_split(a.data, "val")
    n = len(val_x)
    results = {}

    # VADER
    t0 = time.perf_counter()
    vader = SentimentIntensityAnalyzer()
    vader_load = time.perf_counter() - t0

    def vader_label(t):
        c = vader.polarity_scores(t)["compound"]
        return 2 if c >= 0.05 else (0 if c <= -0.05 else 1)

    vpred = np.array([vader_label(t) for t in val_x])
    v_single, v_cpu = rate(lambda: [vader_label(t) for t in val_x], n, a.runs)
    results["VADER 3.3.2"] = dict(metrics(val_y, vpred), load_ms=vader_load * 1e3,
                                  single=v_single, batch=v_single,
                                  single_cpu=v_cpu, batch_cpu=v_cpu)

    # TF-IDF + LinearSVC
    t0 = time.perf_counter()
    vec = FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])
    xtr = vec.fit_transform(train_x)
    svm = LinearSVC(C=0.5, class_weight="balanced")
    svm.fit(xtr, train_y)
    svm_train_s = time.perf_counter() - t0
    spred = svm.predict(vec.transform(val_x))

    def svm_batches():
        for i in range(0, n, 1000):
            svm.predict(vec.transform(val_x[i:i + 1000]))

    sub = val_x[:300]

    def svm_single():
        for t in sub:
            svm.predict(vec.transform([t]))

    s_batch, s_batch_cpu = rate(svm_batches, n, a.runs)
    s_single, s_single_cpu = rate(svm_single, len(sub), max(1, a.runs // 2))
    results["TF-IDF w1-2+c2-5 LinearSVC"] = dict(metrics(val_y, spred), load_ms=float("nan"),
                                                 single=s_single, batch=s_batch,
                                                 single_cpu=s_single_cpu, batch_cpu=s_batch_cpu,
                                                 train_s=svm_train_s)

    # Marquee (release CLI, JSON output)
    runs = []
    for _ in range(a.runs):
        out = subprocess.run(
            [a.marquee, "eval", "sentiment", "--text", os.path.join(a.data, "val_text.txt"),
             "--labels", os.path.join(a.data, "val_labels.txt"), "--json"],
            check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out))
    m = runs[0]["metrics"]
    tp = [r["throughput"] for r in runs]
    results["Marquee sentiment-v1"] = {
        "macro_recall": m["macro_recall"], "macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
        "confusion": m["confusion"],
        "load_ms": statistics.median(t["load_ms"] for t in tp),
        "single": statistics.median(t["single_texts_per_s"] for t in tp),
        "batch": statistics.median(t["batch_1000_texts_per_s"] for t in tp),
        "single_cpu": statistics.median(t["single_texts_per_cpu_s"] or 0.0 for t in tp),
        "batch_cpu": statistics.median(t["batch_1000_texts_per_cpu_s"] or 0.0 for t in tp),
        "model_sha256": runs[0]["model_sha256"],
    }

    mq = results["Marquee sentiment-v1"]
    print(f"TweetEval val, {n} texts, one core (medians of {a.runs} runs)")
    print("texts/s: wall clock, and per CPU-second of the measuring thread (robust to a busy machine)")
    print(f"{'system':30} {'macro-R':>8} {'macro-F1':>8} {'acc':>7} {'single/s':>10} {'batch/s':>10} "
          f"{'single/cpu-s':>13} {'batch/cpu-s':>12} {'load ms':>8}")
    for name, r in results.items():
        print(f"{name:30} {r['macro_recall']:8.4f} {r['macro_f1']:8.4f} {r['accuracy']:7.4f} "
              f"{r['single']:10.0f} {r['batch']:10.0f} {r['single_cpu']:13.0f} {r['batch_cpu']:12.0f} "
              f"{r['load_ms']:8.2f}")
    for name, r in results.items():
        if name.startswith("Marquee"):
            continue
        print(f"Marquee vs {name}: macro-recall {mq['macro_recall'] - r['macro_recall']:+.4f}, "
              f"single {mq['single'] / r['single']:.1f}x, batch {mq['batch'] / r['batch']:.1f}x (wall); "
              f"single {mq['single_cpu'] / r['single_cpu']:.1f}x, batch {mq['batch_cpu'] / r['batch_cpu']:.1f}x (CPU)")
    print("confusion (rows gold neg/neu/pos, cols predicted):")
    for name, r in results.items():
        print(f"  {name}: {r['confusion']}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
