import json

from schemas.options import PIPELINE_VERSION
from tests.pipeline_version import RECORD, ROOT, digest


def test_output_affecting_code_changes_with_the_pipeline_version():
    recorded = json.loads(RECORD.read_text())
    if recorded["digest"] != digest():
        assert recorded["version"] != PIPELINE_VERSION, (
            "output-affecting code changed under the same PIPELINE_VERSION: bump it in schemas/options.py when the "
            "change can alter output (old results would count as done for ever), then run "
            "`python tests/pipeline_version.py` to record the digest")
        raise AssertionError("PIPELINE_VERSION was bumped: run `python tests/pipeline_version.py` to record its digest")
    assert recorded["version"] == PIPELINE_VERSION


def test_the_readme_lists_every_error_kind_with_its_category_and_action():
    from schemas.errors import KINDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for kind, info in KINDS.items():
        assert f"| `{kind.value}` | {info.category} | {info.action} |" in readme, kind


def test_every_error_kind_raised_in_the_code_is_a_known_kind():
    import re

    from schemas.errors import ErrorKind

    used = set()
    for path in ROOT.glob("*/**/*.py"):
        if path.parts[len(ROOT.parts)] in ("pipeline", "flows", "model", "gemmadoc", "review", "evaluate"):
            text = path.read_text(encoding="utf-8")
            used |= set(re.findall(r'kind="([a-z_]+)"', text)) - {"file", "encoded", "page", "frame"}  # ImageRef and unit kinds
            used |= set(re.findall(r'StageError\("[a-z]+", "([a-z_]+)"', text))
            used |= set(re.findall(r'\berr\("([a-z_]+)"', text))
    assert used and used <= {k.value for k in ErrorKind}, used - {k.value for k in ErrorKind}
