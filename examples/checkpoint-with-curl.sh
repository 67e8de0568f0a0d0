#!/usr/bin/env bash
# A checkpoint's round trip through nothing but Chronicle's REST API: a run uploads a directory (one
# file larger than the part size, so it goes up in parts), finalizes it, and a continuation finds the
# newest ready checkpoint of the variation and downloads it byte for byte.
#
#   METHODIC_URL=http://127.0.0.1:8080 METHODIC_TOKEN=... ./examples/checkpoint-with-curl.sh
#
# Needs curl, sha256sum, dd and node (for JSON). BIG_MIB sets the large file's size (default 80) and
# PART_MIB the part size (default 64, at least 5).
set -euo pipefail

url=${METHODIC_URL:-http://127.0.0.1:8080}
token=${METHODIC_TOKEN:?set METHODIC_TOKEN to a write token}
exp=${EXPERIMENT:-checkpoint-demo}
run=${RUN:-$(date +%s)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

api() { # METHOD PATH [JSON]
  curl -sS --fail-with-body -X "$1" "$url$2" -H "authorization: Bearer $token" \
    ${3:+-H 'content-type: application/json' --data-binary "$3"}
}
json() { # EXPRESSION, evaluated with `d` the JSON read from standard input
  node -e "const d = JSON.parse(require('fs').readFileSync(0, 'utf8')); const r = ($1); console.log(typeof r === 'string' ? r : JSON.stringify(r))"
}

# 1. A checkpoint directory, as a trainer would write it.
mkdir -p "$work/ckpt/optimizer"
head -c "$((${BIG_MIB:-80} * 1024 * 1024))" /dev/urandom > "$work/ckpt/model.safetensors"
echo '{"step": 1200, "lr": 0.0003}' > "$work/ckpt/trainer_state.json"
head -c 4096 /dev/urandom > "$work/ckpt/optimizer/state.bin"

# 2. The run: experiment (once), start.
api POST /v1/experiments "{\"id\": \"$exp\"}" > /dev/null 2>&1 || true
api POST "/v1/experiments/$exp/variations/base/runs/$run/start" > /dev/null

# 3. The manifest: every file's path, size and sha256, and for a file larger than the part size the
# sha256 of each part, which storage checks every part against (S3 requires them).
part=$((${PART_MIB:-64} * 1024 * 1024))
manifest=$(cd "$work/ckpt" && find . -type f | sed 's|^\./||' | sort | while read -r path; do
  size=$(stat -c %s "$path")
  parts=""
  if [ "$size" -gt "$part" ]; then
    for ((offset = 0; offset < size; offset += part)); do
      hash=$(dd if="$path" bs=4M iflag=skip_bytes,count_bytes skip="$offset" count="$part" status=none |
        sha256sum | cut -d' ' -f1)
      parts="$parts${parts:+, }\"$hash\""
    done
    parts=", \"part_sha256\": [$parts]"
  fi
  printf '{"path": "%s", "size": %d, "sha256": "%s"%s}\n' "$path" "$size" "$(sha256sum "$path" | cut -d' ' -f1)" "$parts"
done | paste -sd, -)
created=$(api POST "/v1/experiments/$exp/variations/base/runs/$run/assets" \
  "{\"asset_type\": \"checkpoint\", \"name\": \"step-1200\", \"part_size\": $part, \"components\": [$manifest]}")
id=$(echo "$created" | json 'd.asset.id')

# 4. Every piece of the plan straight to its URL, with the headers the plan lists: a whole file, or a
# byte range of a large one. Storage answers each with an ETag; the parts of a large file are
# reported with theirs (finalize completes the file from those reports). A plan signs at most
# METHODIC_PLAN_MAX_PIECES pieces (1000): while it says truncated, the next page comes from /uploads.
plan=$(echo "$created" | json 'd.upload')
while :; do
  echo "$plan" | json 'd.components.flatMap((c) => (c.parts ?? [{ offset: 0, size: -1, url: c.url, headers: c.headers }])
      .map((p) => [c.path, p.part_number ?? "-", p.offset, p.size, p.url,
        Object.entries(p.headers ?? {}).filter(([k]) => k !== "content-length").map(([k, v]) => k + ": " + v).join("|")].join("\t"))).join("\n")' |
  while IFS=$'\t' read -r path number offset size piece_url headers; do
    [ -n "$path" ] || continue
    extra=()
    IFS='|' read -ra wanted <<< "$headers"
    for header in "${wanted[@]}"; do extra+=(-H "$header"); done
    if [ "$size" = -1 ]; then
      curl -sS --fail -X PUT "${extra[@]}" --data-binary "@$work/ckpt/$path" "$piece_url" -o /dev/null
    else
      etag=$(dd if="$work/ckpt/$path" bs=4M iflag=skip_bytes,count_bytes skip="$offset" count="$size" status=none |
        curl -sS --fail -X PUT -H "content-length: $size" "${extra[@]}" --data-binary @- "$piece_url" -o /dev/null \
          -D - | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
      # An ETag is quoted ("..."): the quotes escaped, it is a JSON string.
      api POST "/v1/assets/$id/parts" \
        "{\"parts\": [{\"path\": \"$path\", \"part_number\": $number, \"etag\": \"${etag//\"/\\\"}\"}]}" > /dev/null
    fi
  done
  [ "$(echo "$plan" | json 'String(d.truncated)')" = true ] || break
  plan=$(api POST "/v1/assets/$id/uploads" | json 'd.upload')
done

# 5. Finalize: pending -> ready, once every piece is in place.
api POST "/v1/assets/$id/finalize" | json '"finalized " + d.asset.id + ": " + d.asset.state + ", " + d.asset.size + " bytes"'

# 6. A continuation run finds the newest ready checkpoint of the variation and downloads it.
latest=$(api GET "/v1/experiments/$exp/variations/base/outputs/latest?asset_type=checkpoint" | json 'd.asset.id')
api GET "/v1/assets/$latest/download" | json 'd.components.map((c) => [c.path, c.sha256, c.url].join("\t")).join("\n")' |
while IFS=$'\t' read -r path sha url_; do
  mkdir -p "$(dirname "$work/restored/$path")"
  curl -sS --fail "$url_" -o "$work/restored/$path"
  echo "$sha  $work/restored/$path" | sha256sum --check --quiet
done
diff -r "$work/ckpt" "$work/restored" && echo "restored $latest: byte-identical"
api POST "/v1/experiments/$exp/variations/base/runs/$run/succeed" > /dev/null
