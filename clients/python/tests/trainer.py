"""A trainer in a process of its own (the crash tests' child): starts its run (or picks it up again:
start is idempotent), uploads one directory through the upload tracker, waits for it, and prints
the ready asset as one JSON line. Killed mid-upload and started again, it resumes the same asset."""

from __future__ import annotations

import json
import sys

from methodic import Chronicle, UploadTracker

exp_id, variation, run_idx, directory, tracker_path, part_size, concurrency = sys.argv[1:8]
run = Chronicle().run(exp_id, variation, int(run_idx))
run.start()
tracker = UploadTracker(db_path=tracker_path)
print("STARTED", flush=True)
upload = run.upload_directory_async(
    directory, asset_type="checkpoint", upload_tracker=tracker, part_size=int(part_size), concurrency=int(concurrency)
)
asset = upload.result()
print("ASSET " + json.dumps({"id": asset["id"], "state": asset["state"], "size": asset["size"]}), flush=True)
