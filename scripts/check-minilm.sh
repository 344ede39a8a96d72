#!/usr/bin/env bash
# Live check of the pretrained sentence encoder (needs the model and sentence-transformers, so it
# is not part of scripts/test.sh): fetches all-MiniLM-L6-v2 (scripts/fetch-minilm.sh), writes the
# library's embeddings of Tests/Fixtures/minilm_sentences.txt (SentenceEncoderLiveTests), checks
# them against sentence-transformers' (≤ 1e-5), then times encoding a batch of 32 sentences in
# the library (`deep-bench minilm_encode_b32`) and in sentence-transformers, alternating REPEATS
# times, and prints the median sentences per second of each and their ratio.
#
#     bash scripts/check-minilm.sh          # PYTHON=... to use an interpreter with sentence-transformers
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
python_with "${DEEPSTITCH_TEXT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/deepstitch/venv-text}" "import sentence_transformers, numpy" \
    sentence-transformers numpy
export DEEPSTITCH_MINILM_DIR=${DEEPSTITCH_MINILM_DIR:-$(bash scripts/fetch-minilm.sh)}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
swift build -c release --build-tests -Xswiftc -enable-testing
MINILM_EMBEDDINGS_OUT="$OUT/embeddings.npy" swift test -c release --skip-build --disable-swift-testing -Xswiftc -enable-testing --filter SentenceEncoderLiveTests
(cd Tests/Fixtures && "$PYTHON" check_minilm.py "$DEEPSTITCH_MINILM_DIR" "$OUT/embeddings.npy")
ours=(); theirs=()
for _ in $(seq "${REPEATS:-3}"); do
    ours+=("$(.build/release/deep-bench minilm_encode_b32 | grep -o '"sentences_per_s": [0-9.]*' | grep -o '[0-9.]*$')")
    theirs+=("$(cd Tests/Fixtures && "$PYTHON" check_minilm.py "$DEEPSTITCH_MINILM_DIR" --time-only | grep -o '"sentences_per_s": [0-9.]*' | grep -o '[0-9.]*$')")
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]; theirs = [float(x) for x in sys.argv[2].split()]
o, t = statistics.median(ours), statistics.median(theirs)
print(f"minilm_encode_b32 sentences/s: DeepStitch {o:.1f} (runs {ours}), sentence-transformers {t:.1f} (runs {theirs}); ratio {o / t:.2f}")
PY
