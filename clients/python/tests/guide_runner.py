"""Runs the integration guide's Python blocks, verbatim and in order, in one namespace, as a trainer
process would (run by test_guide.py in a child process). What the guide leaves to the reader is
played here, between blocks: the trainer's own setup, its training loop (the guide's "call
checkpoint(step) periodically"), the next run index of a continuation run, and a researcher linking a
checkpoint as the variation's input. Prints one JSON line of what the test checks."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Dict

import torch  # the stand-in (tests/stand_ins), on PYTHONPATH for this process only

from guide import code_blocks, guide_path
from methodic import Chronicle

exp_id, variation = sys.argv[1], sys.argv[2]
ns: Dict[str, Any] = {"__name__": "__guide__"}


class Accelerator:
    """Accelerate's save_state / load_state, on the stand-in model and optimizer."""

    def save_state(self, directory: str) -> None:
        torch.save({"model": ns["model"].state_dict(), "step": ns["step"]}, Path(directory) / "accelerator.pt")

    def load_state(self, directory: str) -> None:
        ns["model"].load_state_dict(torch.load(Path(directory) / "accelerator.pt")["model"])


def save_state(ckpt: Path) -> None:
    # The trainer's framework writing its files: weights and a step counter, as torch.save would.
    torch.save({"model": ns["model"].state_dict(), "optimizer": ns["optimizer"].state_dict(), "step": ns["step"]}, ckpt / "state.pt")
    # And what Accelerate's save_state writes, so that each of the guide's ways to load finds its file.
    ns["accelerator"].save_state(str(ckpt))


def load_state(resume_dir: Path) -> None:
    ns["loaded"] = torch.load(resume_dir / "state.pt")


resolved_config = {"lr": 3e-4, "seed": 1234, "batch_size": 32, "optimizer": {"name": "adamw", "eps": 1e-8}}
ns.update(
    chronicle=Chronicle(heartbeat_interval=1.0),
    exp_id=exp_id,
    variation=variation,
    run_idx=0,
    resolved_config=resolved_config,
    dataset_hash=hashlib.sha256(b"ripple-v3").hexdigest(),
    model=torch.Module(w=[0.0, 0.0]),
    optimizer=torch.Module(m=[0.0]),
    accelerator=Accelerator(),
    save_state=save_state,
    load_state=load_state,
    step=0,
)


def train() -> None:
    """The loop the guide elides: a few steps, a checkpoint after each, uploads draining meanwhile."""
    for step in range(3):
        ns["step"] = step
        ns["model"].load_state_dict({"w": [float(step), 2.0 * step]})
        ns["checkpoint"](step)


blocks = code_blocks(guide_path().read_text("utf-8"))
facts: Dict[str, Any] = {"blocks": len(blocks)}
for index, block in enumerate(blocks):
    if "latest_output(" in block:
        # A continuation run: a new run index of the same variation.
        facts["first_run"] = ns["run"].index
        ns["run_idx"] += 1
    if "list_inputs()" in block:
        # A researcher branches this variation from its newest checkpoint, linking it as an input.
        newest = ns["chronicle"].variation(exp_id, variation).latest_output("checkpoint")
        ns["chronicle"].variation(exp_id, variation).link_input(newest["id"])
    for statement in ast.parse(block).body:
        source = ast.get_source_segment(block, statement)
        assert source is not None
        if source.strip() == "run.succeed()":
            train()
        exec(compile(ast.Module(body=[statement], type_ignores=[]), f"<guide block {index}>", "exec"), ns)
    if "def save_state" in block:
        # The guide's own save_state (its last variant, torch.save) writes a loadable checkpoint too.
        Path("out/guide-save").mkdir(parents=True, exist_ok=True)
        ns["save_state"](Path("out/guide-save"))
        facts["guide_save_state"] = sorted(torch.load(Path("out/guide-save/state.pt")))

facts.update(
    wandb_run_id=ns["wb"].id,
    second_run=ns["run"].index,
    resumed_step=ns["loaded"]["step"],
    start_step=ns["start_step"],
    model=ns["model"].state_dict(),
    ckpt_id=ns["ckpt"]["id"],
    outputs=[a["id"] for a in ns["outputs"]],
    resume_files=sorted(str(p.relative_to("resume")) for p in Path("resume").rglob("*")),
)
print("GUIDE " + json.dumps(facts), flush=True)
