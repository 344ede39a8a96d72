# Sourced by the live-check scripts (check-onnx.sh, check-minilm.sh): sets PYTHON to an
# interpreter that runs `check` (an import line). A PYTHON given by the caller is checked only;
# otherwise a virtual environment outside the repository (`venv`) is made once and `packages`
# are installed into it from PyPI.
#
#     python_with "$HOME/.cache/deepstitch/venv-onnx" "import onnx, onnxruntime, numpy" onnx onnxruntime numpy
python_with() {
    local venv=$1 check=$2
    shift 2
    if [ -n "${PYTHON:-}" ]; then
        "$PYTHON" -c "$check" || { echo "$(basename "$0"): install $* for $PYTHON" >&2; exit 1; }
        return
    fi
    if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
        echo "$(basename "$0"): installing $* into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "$@"
    fi
    PYTHON="$venv/bin/python"
}
