"""The Python client's side of bench/python-upload: a trainer's process that starts a run and uploads
one checkpoint directory with run.upload_directory_async, timed from the call to the ready asset.
Prints one JSON line: seconds, the asset, and the process's peak RSS (VmHWM)."""

from __future__ import annotations

import json
import sys
import time

from methodic import Chronicle, ConflictError


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


options = json.loads(sys.argv[1])
chronicle = Chronicle(options["url"], options["token"])
try:
    chronicle.create_experiment(options["experiment"])
except ConflictError:
    pass  # made by an earlier side
run = chronicle.run(options["experiment"], options["variation"], options["run"])
run.start()
idle = peak_rss_bytes()
started = time.perf_counter()
upload = run.upload_directory_async(
    options["directory"],
    asset_type="checkpoint",
    part_size=options["partSize"],
    concurrency=options["concurrency"],
)
created = None
while not upload.done():
    if created is None and upload.asset_id is not None:
        created = time.perf_counter() - started
    time.sleep(0.01)
asset = upload.result()
seconds = time.perf_counter() - started
run.succeed()
print(
    json.dumps(
        {
            "seconds": seconds,
            "createdAfter": created,
            "asset": {"id": asset["id"], "state": asset["state"], "size": asset["size"]},
            "idleRssBytes": idle,
            "peakRssBytes": peak_rss_bytes(),
        }
    ),
    flush=True,
)
