"""Run a script as the lent GPU image would: the packages that image lacks (../.library/device/KINDS.md)
cannot be imported. `python tools/as_on_device.py bench/gpu_throughput.py --meta` fails here if the
benchmark ever comes to need one of them, instead of on the device, where a call costs minutes."""

import runpy
import sys

ABSENT_ON_DEVICE = ("pydantic", "xgrammar", "prefect", "rapidfuzz", "pymupdf", "fitz", "ray", "rapidocr_onnxruntime",
                    "langextract", "playwright")

if __name__ == "__main__":
    for name in ABSENT_ON_DEVICE:
        sys.modules[name] = None  # import raises ImportError
    script, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
