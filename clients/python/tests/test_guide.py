"""The trainer integration guide's Python, run as written against the real server: every code block
in order, with the real wandb package in offline mode and a torch stand-in (no GPU here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import _experiment, _token
from guide import code_blocks, guide_path
from harness import CLIENT_SRC, Child, Server, python_env

from methodic import Chronicle

TESTS = Path(__file__).resolve().parent


def test_the_guide_is_found_with_every_call_it_documents() -> None:
    path = guide_path()
    assert path.exists(), f"the trainer integration guide is not at {path} (METHODIC_GUIDE names another copy)"
    code = "\n".join(code_blocks(path.read_text("utf-8")))
    for call in [
        "chronicle.run(",
        "run.start(",
        "run.upload_environment(",
        "run.upload_asset(",
        "UploadTracker(db_path=",
        "run.upload_directory_async(",
        "run.succeed()",
        "run.latest_output(",
        "run.download_asset(",
        "run.list_outputs(across_runs=True)",
        ".list_inputs()",
    ]:
        assert call in code, call


def test_the_guide_runs_as_written(server: Server, tmp_path: Path) -> None:
    exp_id = _experiment(server, wandb_project="ripple-pde")
    variation = "lr-3e-4"
    # The trainer's working directory: a git checkout (the guide records its HEAD).
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "train.py").write_text("# the training code\n")
    subprocess.run([*git, "-C", str(tmp_path), "add", "train.py"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "train"], check=True)
    head = subprocess.check_output(["git", "-C", str(tmp_path), "rev-parse", "HEAD"]).decode().strip()

    env = python_env(
        server,
        _token(server),
        # pip first on PATH is this environment's (the guide runs `pip freeze`).
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join([str(CLIENT_SRC), str(TESTS), str(TESTS / "stand_ins")]),
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp_path / "wandb-dir"),
        WANDB_ENTITY="methodic-tests",
        WANDB_SILENT="true",
    )
    (tmp_path / "wandb-dir").mkdir()
    if os.environ.get("METHODIC_GUIDE"):
        env["METHODIC_GUIDE"] = os.environ["METHODIC_GUIDE"]
    child = Child([sys.executable, str(TESTS / "guide_runner.py"), exp_id, variation], env, cwd=str(tmp_path))
    code = child.wait(600)
    assert code == 0, child.output()
    facts = json.loads(child.wait_for(r"GUIDE (.*)").group(1))

    client = Chronicle(server.url, server.admin_token)
    first = client.run(exp_id, variation, facts["first_run"]).get()
    assert first["state"] == "succeeded"
    # The W&B pointer, with the project from wandb.init and the dashboard URL the server derives.
    assert first["wandb"]["run_id"] == facts["wandb_run_id"]
    assert first["wandb"]["entity"] == "methodic-tests" and first["wandb"]["project"] == "ripple-pde"
    outputs = client.run(exp_id, variation, facts["first_run"]).list_outputs()
    types = sorted(a["asset_type"] for a in outputs)
    assert types == ["checkpoint"] * 3 + ["environment"] * 2 + ["trainer_config"]
    assert all(a["state"] == "ready" for a in outputs)
    environments = [client.get_asset_content(a["id"]) for a in outputs if a["asset_type"] == "environment"]
    standard = next(e for e in environments if "git_sha" in e)
    assert standard["git_sha"] == head and standard["torch"] == "0.0.0+stand-in" and standard["gpus"] == []
    assert any(p.startswith("methodic") or "==" in p for p in standard["packages"])
    custom = next(e for e in environments if "trainer" in e)
    assert custom["dataset"]["n_examples"] == 50_000 and custom["seed"] == 1234
    config = next(a for a in outputs if a["asset_type"] == "trainer_config")
    assert config["asset_config"] == {"schema_version": 3}

    # The continuation run resumed from the newest checkpoint (step 2) and goes on from step 3.
    newest = client.variation(exp_id, variation).latest_output("checkpoint")
    assert facts["second_run"] == facts["first_run"] + 1
    assert facts["ckpt_id"] == newest["id"]
    assert facts["resumed_step"] == 2 and facts["start_step"] == 3
    assert facts["model"] == {"w": [2.0, 4.0]}
    assert facts["resume_files"] == ["accelerator.pt", "state.pt"]
    assert facts["guide_save_state"] == ["model", "optimizer", "step"]
    # The last listing is the variation's: every output of both runs, newest first.
    assert facts["outputs"] == [a["id"] for a in client.variation(exp_id, variation).list_outputs()]
    inputs = client.variation(exp_id, variation).list_inputs()
    assert [a["id"] for a in inputs] == [newest["id"]]
