"""`aiwf workflows validate FILE|-`: the validator's verdict as JSON, exit 0 / 1, and 2 when unreadable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AIWF = Path(sys.executable).with_name("aiwf")
VALID = Path(__file__).parents[1] / "fixtures" / "n8n" / "valid" / "12-order-api-validate-phone-respond.json"


def aiwf(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AIWF), "workflows", "validate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_valid_workflow_file_prints_valid_and_exits_0() -> None:
    done = aiwf(str(VALID))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"valid": True, "problems": []}


def test_a_broken_workflow_on_standard_input_prints_its_problems_and_exits_1() -> None:
    document = json.loads(VALID.read_text(encoding="utf-8"))
    document["connections"]["Numéro valide ?"]["main"].append(
        [{"node": "Numéro refusé", "type": "main", "index": 0}]
    )
    done = aiwf("-", stdin=json.dumps(document))
    assert done.returncode == 1, done.stderr
    output = json.loads(done.stdout)
    assert output["valid"] is False
    assert output["problems"] == [
        {
            "code": "output_index_out_of_range",
            "node": "Numéro valide ?",
            "message": output["problems"][0]["message"],
            "severity": "error",
        }
    ]
    assert "outputs 0 (true) and 1 (false)" in output["problems"][0]["message"]


def test_text_that_is_not_json_is_a_problem_not_a_crash() -> None:
    done = aiwf("-", stdin="name: not json")
    assert done.returncode == 1
    assert [p["code"] for p in json.loads(done.stdout)["problems"]] == ["invalid_json"]


def test_an_unreadable_file_exits_2_and_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    done = aiwf(str(missing))
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"cannot read {missing}" in done.stderr
    assert "No such file" in done.stderr
