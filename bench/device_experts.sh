#!/bin/sh
# Optional second call on the lent GPU machine, while it is still warm after bench/device_quantization.sh:
# the bf16 decode with each MoE experts kernel transformers offers, so the backend's default is the faster
# one (issue 10: "decoding keeps grouped_mm, or whichever the measurement shows is faster").
#   run(command="sh bench/device_experts.sh", timeout_s=200)    (no wheels needed)
set -u
export PYTHONUNBUFFERED=1
LOG="${OUT:-/tmp}/device_experts.log"
for run in grouped_mm:90 batched_mm:90; do
  e=${run%%:*}
  timeout "${run##*:}" python3 bench/gpu_throughput.py --experts "$e" --docs 24 --naive-pages 1 2>&1 \
    | grep -v "_pytree\|register_constant" | sed "s/^RESULT /RESULT experts=$e /" | tee -a "$LOG"
  grep -q "^RESULT experts=$e " "$LOG" || echo "RESULT experts=$e failed=1 (no result within ${run##*:} s: see the log above)" | tee -a "$LOG"
done
