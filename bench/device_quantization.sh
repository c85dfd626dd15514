#!/bin/sh
# One call on the lent GPU machine (device tool): bench/gpu_throughput.py on the real Gemma 4 26B-A4B
# architecture with random weights, bf16 then --quantization fp8, nf4 and int8, each in a fresh process,
# so every RESULT line (peak_gpu_gb, pages_per_s, quantization=...) comes from the same card and call;
# each process first measures peak memory at 16k context x 8 requests (the mode=context lines: prefilled
# in pieces of --prefill-tokens as the backend runs, then in one pass as generate() alone does).
# Checked on CPU under the image's transformers 5.17 first: `make test-device-image`.
#
# Here, once (the device image has no network; torchao 3.4 MB + bitsandbytes 43 MB < 64 MiB a call):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d .whl torchao==0.18.0 bitsandbytes==0.50.2
# Then: run(command="sh bench/device_quantization.sh", carry=[".whl"], timeout_s=600)
# The four runs take at most 540 s together (bf16 first: issue 10's figure; the eager-loop methods last,
# with the most time). Output is unbuffered and copied to $OUT/device_quantization.log, so a run cut off
# by its timeout still leaves the RESULT lines it printed. Workload: 128 one-page documents (as
# bench/vllm_throughput.py), in one batch (--batch-tokens 110000); bf16 and fp8 then time the decode loop
# with each MoE experts kernel (mode=decode_kernels: the backend's grouped_mm, transformers' batched_mm),
# and the default kernel over a static KV cache (cache=static, not compiled).
set -u
export PYTHONUNBUFFERED=1
LOG="${OUT:-/tmp}/device_quantization.log"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$LOG"
for run in none:130:2 fp8:120:1 nf4:150:1 int8:140:1; do
  q=${run%%:*}; rest=${run#*:}; limit=${rest%%:*}; naive=${rest#*:}
  timeout "$limit" python3 bench/gpu_throughput.py --quantization "$q" --docs 128 --batch-tokens 110000 \
    --naive-pages "$naive" --context 16384 --batch 8 --compare-decode 64 2>&1 \
    | grep -v "Failed to load\|_pytree\|register_constant" | tee -a "$LOG"
  grep -q "^RESULT .*backend=transformers pages_per_s=.*quantization=$q\$" "$LOG" \
    || echo "RESULT quantization=$q failed=1 (no throughput result within $limit s: see the log above)" | tee -a "$LOG"
done
grep '^RESULT' "$LOG" | sed 's/^/FINAL /'
