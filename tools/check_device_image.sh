#!/bin/sh
# The GPU benchmark with the library versions of the lent H200's image (transformers 5.17.0, huggingface_hub
# 1.33.0, accelerate 1.15.0; ../.library/device/KINDS.md), on this CPU: the real config on the meta device
# for every --quantization, and the tiny model generating through bench/gpu_throughput.py (throughput, then
# memory at a context, prefilled in pieces and in one pass; bf16 decode with each experts kernel) for each method that runs on CPU; the packages that image lacks (pydantic, xgrammar,
# prefect, ...) made unimportable (tools/as_on_device.py). A device call is 15 minutes a session: this catches version breaks before one is spent.
# Usage: sh tools/check_device_image.sh [VENV]   (default .venv; the pinned packages go to .device-image/)
set -eu
VENV=${1:-.venv}
SITE=.device-image
if [ ! -f "$SITE/.installed" ]; then
  rm -rf "$SITE"
  "$VENV/bin/pip" install -q --no-deps --target "$SITE" transformers==5.17.0 huggingface_hub==1.33.0 accelerate==1.15.0
  touch "$SITE/.installed"
fi
"$VENV/bin/python" -c "from model.tiny import ensure_tiny; ensure_tiny()"  # built with the project's own versions
export PYTHONPATH="$PWD/$SITE"
"$VENV/bin/python" -c "import transformers as t; assert t.__version__ == '5.17.0', t.__version__"
: >"$SITE/all"
bench() {  # one benchmark run: its RESULT line, or its output's tail and a failure
  if "$VENV/bin/python" tools/as_on_device.py bench/gpu_throughput.py "$@" >"$SITE/log" 2>&1; then grep '^RESULT' "$SITE/log" | tee -a "$SITE/all"
  else tail -20 "$SITE/log"; echo "FAILED: bench/gpu_throughput.py $* under the device image's versions"; exit 1; fi
}
for q in none int8 nf4 fp8; do bench --meta --quantization "$q"; done
for q in none int8 nf4; do
  bench --tiny --quantization "$q" --context 2400 --batch 2 --prefill-tokens 1024 --expert-group 3 --compare-decode 2 --compare-tokens 4
done
# the backend's decode kernel replaces generate()'s switch under these versions too (model/experts.py); a
# static KV cache must decode here, but not the same tokens: under 5.17 it changes the answers of requests
# with images on the tiny model (5.24 gives the dynamic cache's), so the device line's same_rows tells
for run in grouped_mm:dynamic:" same_rows=2" batched_mm:dynamic:" same_rows=2" grouped_mm:static:""; do
  k=${run%%:*}; rest=${run#*:}; c=${rest%%:*}; same=${rest#*:}
  grep -q "^RESULT.*mode=decode_kernels decode_experts=$k cache=$c rows=2$same.* decode_ran=$k " "$SITE/all" \
    || { echo "FAILED: no $k decode over a $c cache under the device image's versions"; exit 1; }; done
# the fp32 prefill in pieces must give the one-pass answers (model/prefill.py) under these versions too
grep -q '^RESULT.*mode=prefill_check rows=2 same_rows=2 quantization=none' "$SITE/all" \
  || { echo "FAILED: prefill in pieces differs from one pass under the device image's versions"; exit 1; }
# bench/prefill_memory.py (real-width layers) at a toy size: it runs under these versions, same tokens out
"$VENV/bin/python" tools/as_on_device.py bench/prefill_memory.py --layers 1 --rows 2 --context 256 --prefill-tokens 128 \
  --vocab 512 >"$SITE/log" 2>&1 && grep '^RESULT' "$SITE/log" | tee -a "$SITE/all" && grep -q 'layers=1 .*same_tokens=1$' "$SITE/all" \
  || { tail -20 "$SITE/log"; echo "FAILED: bench/prefill_memory.py under the device image's versions"; exit 1; }
