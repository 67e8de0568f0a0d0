"""boto3's side of bench/python-upload: the same checkpoint files to the same MinIO with
``s3.upload_file`` (its TransferManager), the files one after the other as a user's loop would send
them, timed from the first file to the last. Prints one JSON line: seconds and bytes."""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

options = json.loads(sys.argv[1])
target = options["target"]
s3 = boto3.client(
    "s3",
    endpoint_url=target["endpoint"],
    region_name=target["region"],
    aws_access_key_id=target["accessKeyId"],
    aws_secret_access_key=target["secretAccessKey"],
    config=Config(s3={"addressing_style": "path"}),
)
# "matched": the Python client's part size and concurrency; "defaults": upload_file as it comes
# (8 MiB parts, 10 threads).
config = (
    TransferConfig(
        multipart_threshold=options["partSize"],
        multipart_chunksize=options["partSize"],
        max_concurrency=options["concurrency"],
    )
    if options["config"] == "matched"
    else TransferConfig()
)
files = []
for parent, _dirs, names in os.walk(options["directory"]):
    for name in names:
        files.append(os.path.join(parent, name))
files.sort()
sent = 0
started = time.perf_counter()
for path in files:
    key = f"{options['prefix']}/{os.path.relpath(path, options['directory'])}"
    s3.upload_file(path, target["bucket"], key, Config=config)
    sent += os.path.getsize(path)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "bytes": sent}), flush=True)
