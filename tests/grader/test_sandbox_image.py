"""The sandbox images stay in step with the platform they grade for."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(text: str) -> dict[str, str]:
    return {m[0].lower(): m[1] for m in re.findall(r'^\s*"?([A-Za-z0-9_.-]+)==([0-9][^"\s,]*)', text, re.M)}


def test_the_production_sandbox_pins_what_the_platform_pins():
    platform = pins((ROOT / "pyproject.toml").read_text())
    sandbox = pins((ROOT / "deploy/sandbox/requirements.txt").read_text())
    assert sandbox and all(platform[name] == version for name, version in sandbox.items()), (sandbox, platform)


def test_both_sandbox_images_run_the_runtime_as_nobody():
    for name in ("Dockerfile", "Dockerfile.offline"):
        text = (ROOT / "deploy/sandbox" / name).read_text()
        assert "USER 65534:65534" in text and 'ENTRYPOINT ["python3", "-m", "basin_grader.runtime"]' in text, name


def test_the_docker_tests_grade_with_an_image_built_from_these_grader_sources():
    from basin.grading.sandbox_image import SOURCE_LABEL, grader_source_hash
    from basin_grader.sandbox.docker_backend import image_labels
    from tests import services

    services.require("docker")  # builds or rebuilds the image when its sources differ
    assert image_labels("basin-sandbox:cpu")[SOURCE_LABEL] == grader_source_hash()
