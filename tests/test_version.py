import json

from schemas.options import PIPELINE_VERSION
from tests.pipeline_version import RECORD, digest


def test_output_affecting_code_changes_with_the_pipeline_version():
    recorded = json.loads(RECORD.read_text())
    if recorded["digest"] != digest():
        assert recorded["version"] != PIPELINE_VERSION, (
            "output-affecting code changed under the same PIPELINE_VERSION: bump it in schemas/options.py when the "
            "change can alter output (old results would count as done for ever), then run "
            "`python tests/pipeline_version.py` to record the digest")
        raise AssertionError("PIPELINE_VERSION was bumped: run `python tests/pipeline_version.py` to record its digest")
    assert recorded["version"] == PIPELINE_VERSION
