#!/usr/bin/env bash
# `make run`: Azurite + the reference server (with a demo population and key) serving the
# release build of the app. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

APP_PORT=${FINSYNC_PORT:-8080}
BLOB_PORT=${FINSYNC_BLOB_PORT:-10000}
URL="http://127.0.0.1:$APP_PORT"
DATA=${FINSYNC_DATA_DIR:-.data}   # Azurite's blobs and the server's database; delete to start over

for port in "$APP_PORT" "$BLOB_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use (another make run?); stop that first or set FINSYNC_PORT / FINSYNC_BLOB_PORT" >&2
    exit 1
  fi
done

echo "==> building the app (release) and the server"
trunk build --release >/dev/null
node scripts/postbuild.mjs >/dev/null
cargo build --release -p finsync-server --quiet

mkdir -p "$DATA/azurite"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

azurite-blob --silent --location "$DATA/azurite" --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" \
  --loose --skipApiVersionCheck --disableTelemetry > "$DATA/azurite.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$BLOB_PORT") 2>/dev/null && break; sleep 0.1; done

./target/release/finsync-server \
  --listen "127.0.0.1:$APP_PORT" \
  --database "$DATA/server.db" \
  --blob-connection-string "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/devstoreaccount1;" \
  --allowed-origins "$URL,http://localhost:$APP_PORT" \
  --static-dir dist --public-url "$URL" --demo &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$APP_PORT") 2>/dev/null && break; sleep 0.1; done

echo
echo "    finsync is running: open $URL"
echo "    (Azurite blob storage on :$BLOB_PORT, data in $DATA/; Ctrl-C stops both)"
echo
wait -n "${pids[@]}"
