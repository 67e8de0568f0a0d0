"""Background directory uploads and verified downloads, on every kind of server."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from conftest import make_files

from methodic import Chronicle, ConflictError, UploadTracker

MiB = 1024 * 1024


def test_lifecycle_inline_assets_and_outputs(chronicle: Chronicle, exp_id: str) -> None:
    run = chronicle.run(exp_id, "v1", 0)
    started = run.start()
    assert started["state"] == "running"
    env = run.upload_environment({"python": "3", "nested": {"k": [1, 2]}})
    assert env["asset_type"] == "environment" and env["state"] == "ready" and env["inline"] is True
    config = run.upload_asset(asset_type="trainer_config", content={"lr": 3e-4}, asset_config={"schema_version": 3})
    assert config["asset_config"] == {"schema_version": 3}
    assert chronicle.get_asset_content(config["id"]) == {"lr": 3e-4}
    outputs = run.list_outputs()
    assert [a["id"] for a in outputs] == [config["id"], env["id"]]
    for asset in outputs:
        assert {"id", "asset_type", "name", "state", "components", "created_at"} <= set(asset)
    assert run.latest_output("trainer_config")["id"] == config["id"]
    assert run.latest_output("checkpoint") is None
    assert run.succeed({"loss": 0.1})["state"] == "succeeded"
    with pytest.raises(ConflictError) as caught:
        run.start()
    assert caught.value.status == 409 and caught.value.code == "run_finished"


def test_directory_round_trip_in_call_order(chronicle: Chronicle, exp_id: str, tmp_path: Path) -> None:
    run = chronicle.run(exp_id, "v1", 0)
    run.start()
    tracker = UploadTracker(db_path=tmp_path / "uploads.sqlite")
    contents = {}
    uploads = []
    for step in range(3):
        ckpt = tmp_path / f"checkpoint-{step}"
        # A multipart file (three 5 MiB parts and a bit), a small one, an empty one, a nested one.
        contents[step] = make_files(
            ckpt, {"model.bin": 15 * MiB + 123, "meta.json": 100 + step, "empty": 0, "sub/dir/x.txt": 7, "naïve näme #1?.txt": 9}, seed=step
        )
        uploads.append(
            run.upload_directory_async(ckpt, asset_type="checkpoint", upload_tracker=tracker, part_size=5 * MiB)
        )
    run.succeed()
    assets = [u.result() for u in uploads]
    assert all(a["state"] == "ready" for a in assets)
    # Created in call order: the newest checkpoint is the last one started.
    assert [a["id"] for a in run.list_outputs(asset_type="checkpoint")] == [a["id"] for a in reversed(assets)]
    latest = run.latest_output("checkpoint")
    assert latest is not None and latest["id"] == assets[-1]["id"]
    assert tracker.pending() == []

    target = tmp_path / "resume"
    files = run.download_asset(latest["id"], target)
    assert sorted(f["path"] for f in files) == sorted(contents[2])
    for path, data in contents[2].items():
        assert (target / path).read_bytes() == data
        assert next(f for f in files if f["path"] == path)["sha256"] == hashlib.sha256(data).hexdigest()
    assert not list(target.rglob("*.partial"))


def test_download_resumes_a_partial_file_with_range(
    chronicle: Chronicle, exp_id: str, tmp_path: Path, server
) -> None:
    run = chronicle.run(exp_id, "v1", 0)
    run.start()
    data = make_files(tmp_path / "ckpt", {"weights.bin": 8 * MiB}, seed=7)["weights.bin"]
    asset = run.upload_directory_async(tmp_path / "ckpt", asset_type="checkpoint").result()
    target = tmp_path / "out"
    target.mkdir()
    # What an interrupted download leaves: the first half under the temporary name.
    (target / "weights.bin.partial").write_bytes(data[: 4 * MiB])
    before = server.counts().get_bytes
    run.download_asset(asset["id"], target)
    assert (target / "weights.bin").read_bytes() == data
    assert not (target / "weights.bin.partial").exists()
    assert server.counts().get_bytes - before == 4 * MiB
    # A file already there with the right bytes is kept, and nothing is fetched.
    before = server.counts().get_bytes
    run.download_asset(asset["id"], target)
    assert server.counts().get_bytes == before


def test_uploads_from_many_threads_at_once(chronicle: Chronicle, exp_id: str, tmp_path: Path) -> None:
    run = chronicle.run(exp_id, "v1", 0)
    run.start()
    tracker = UploadTracker(db_path=tmp_path / "uploads.sqlite")
    errors = []

    def checkpoint(i: int) -> None:
        try:
            ckpt = tmp_path / f"ckpt-{i}"
            make_files(ckpt, {"a.bin": 6 * MiB, "b.bin": 1000}, seed=100 + i)
            run.upload_directory_async(ckpt, asset_type="checkpoint", upload_tracker=tracker, part_size=5 * MiB)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=checkpoint, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    run.succeed()
    outputs = run.list_outputs(asset_type="checkpoint")
    assert len(outputs) == 4 and all(a["state"] == "ready" for a in outputs)


def test_a_plan_in_pages_is_sent_page_by_page(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The server signs at most METHODIC_PLAN_MAX_PIECES pieces per plan (``truncated: true`` when it
    stopped short); the client sends and reports each page, then asks for the next."""
    from conftest import _experiment, client_of

    server = servers.get("pglite", "local", METHODIC_PLAN_MAX_PIECES="4")
    exp_id = _experiment(server)
    run = client_of(server).run(exp_id, "v", 0)
    run.start()
    contents = make_files(tmp_path / "ckpt", {f"shard-{i}.bin": 5 * MiB + i for i in range(3)} | {"small": 10}, seed=9)
    asset = run.upload_directory_async(tmp_path / "ckpt", asset_type="checkpoint", part_size=5 * MiB).result()
    assert asset["state"] == "ready" and asset["uploaded_size"] == sum(len(b) for b in contents.values())
    run.download_asset(asset["id"], tmp_path / "back")
    for path, data in contents.items():
        assert (tmp_path / "back" / path).read_bytes() == data


def test_expired_urls_get_a_fresh_plan(chronicle: Chronicle, exp_id: str, tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    """Storage refusing a URL (403, as it does once the URL expired) makes the client ask the server
    for fresh ones, for uploads (a new plan) and downloads (new download URLs) alike."""
    run = chronicle.run(exp_id, "v1", 0)
    run.start()
    contents = make_files(tmp_path / "ckpt", {"a.bin": 11 * MiB, "b.txt": 10}, seed=11)
    server.proxy.refuse = {"PUT": 3}
    try:
        asset = run.upload_directory_async(tmp_path / "ckpt", asset_type="checkpoint", part_size=5 * MiB).result()
        assert server.proxy.refuse["PUT"] == 0 and asset["state"] == "ready"
        server.proxy.refuse = {"GET": 1}
        run.download_asset(asset["id"], tmp_path / "back")
        assert server.proxy.refuse["GET"] == 0
    finally:
        server.proxy.refuse = {}
    for path, data in contents.items():
        assert (tmp_path / "back" / path).read_bytes() == data
