"""A Python trainer and a TypeScript trainer on one variation see each other's checkpoints: the
Python run 0 checkpoints, the TypeScript run 1 resumes from it with latestOutput and checkpoints in
turn, and the Python run 2 resumes from that with latest_output."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import _experiment, _token, client_of
from harness import ROOT, Child, Server

SDK = ROOT / "packages" / "sdk"

TS_TRAINER = """
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { Chronicle } from "@methodic/sdk";

const { EXP, VARIATION, WORK } = process.env;
const chronicle = new Chronicle();
const run = chronicle.run(EXP, VARIATION, 1);
await run.start();
const latest = await run.latestOutput("checkpoint");
await run.downloadAsset(latest.id, `${WORK}/ts-resume`);
const state = JSON.parse(await readFile(`${WORK}/ts-resume/state.json`, "utf8"));
await mkdir(`${WORK}/ts-ckpt/shards`, { recursive: true });
await writeFile(`${WORK}/ts-ckpt/state.json`, JSON.stringify({ step: state.step + 1, by: "typescript" }));
await writeFile(`${WORK}/ts-ckpt/shards/0.bin`, Buffer.alloc(6 * 1024 * 1024, 7));
const upload = run.uploadDirectoryAsync(`${WORK}/ts-ckpt`, { asset_type: "checkpoint", partSize: 5 * 1024 * 1024 });
const asset = await upload.done;
await run.succeed();
console.log("TS " + JSON.stringify({ resumed_from: latest.id, resumed_step: state.step, uploaded: asset.id }));
"""


def test_python_and_typescript_trainers_resume_from_each_other(server: Server, tmp_path: Path) -> None:
    assert (SDK / "dist" / "index.js").exists(), "the TypeScript SDK is not built: pnpm --filter @methodic/sdk... build"
    exp_id = _experiment(server)
    chronicle = client_of(server)

    first = chronicle.run(exp_id, "shared", 0)
    first.start()
    ckpt = tmp_path / "py-ckpt"
    ckpt.mkdir()
    (ckpt / "state.json").write_text(json.dumps({"step": 10, "by": "python"}))
    (ckpt / "weights.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    py_asset = first.upload_directory_async(ckpt, asset_type="checkpoint", part_size=5 * 1024 * 1024).result()
    first.succeed()

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "METHODIC_URL": server.url,
        "METHODIC_TOKEN": _token(server),
        "EXP": exp_id,
        "VARIATION": "shared",
        "WORK": str(tmp_path),
    }
    node = Child(["node", "--input-type=module", "-e", TS_TRAINER], env, cwd=str(SDK))
    assert node.wait(300) == 0, node.output()
    seen = json.loads(node.wait_for(r"TS (.*)").group(1))
    assert seen["resumed_from"] == py_asset["id"] and seen["resumed_step"] == 10
    assert (tmp_path / "ts-resume" / "weights.bin").read_bytes() == (ckpt / "weights.bin").read_bytes()

    third = chronicle.run(exp_id, "shared", 2)
    third.start()
    latest = third.latest_output("checkpoint")
    assert latest is not None and latest["id"] == seen["uploaded"] and latest["run"] == 1
    third.download_asset(latest["id"], tmp_path / "py-resume")
    assert json.loads((tmp_path / "py-resume" / "state.json").read_text()) == {"step": 11, "by": "typescript"}
    assert (tmp_path / "py-resume" / "shards" / "0.bin").read_bytes() == bytes([7]) * (6 * 1024 * 1024)
    assert [a["id"] for a in third.list_outputs(asset_type="checkpoint", across_runs=True)] == [latest["id"], py_asset["id"]]
    third.succeed()
