#!/usr/bin/env bash
# The remote tier's benchmark (not a timed test): a warm build of
# examples/mixed-sys served by the remote alone (empty local store, a local
# redis-server or nginx with WebDAV) against the same warm build served by
# the local store, alternating A B A B.
#
# One cold build fills both the local store and the remote. Then, each
# round, after `cargo clean`:
#   local   CARGO_GOCACHE_DIR = the filled store, no remote
#   remote  CARGO_GOCACHE_DIR = a new empty store, CARGO_GOCACHE_REMOTE set
# Both rebuild every Rust crate too (cargo clean), so the wall times include
# rustc; the build scripts' time (cargo's run-custom-build units, from
# --timings) is where the C is, and is printed beside it.
#
# Usage: scripts/bench-remote.sh [--dev] [--rounds N] [--server redis|http]
#   --dev        the example's dev profile (default: release)
#   --rounds N   pairs of local and remote builds (default 2)
#   --server     redis (default) or http (nginx with WebDAV)
# Needs redis-server (or nginx) installed. Builds cargo-gocache --release,
# honoring CARGO_TARGET_DIR; BIN=path skips that and uses that binary.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
rounds=2
server=redis
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) profile=dev ;;
        --rounds) rounds=$2; shift ;;
        --server) server=$2; shift ;;
        *) echo "usage: $0 [--dev] [--rounds N] [--server redis|http]" >&2; exit 2 ;;
    esac
    shift
done

cargo=${CARGO:-cargo}
work=$(mktemp -d "${TMPDIR:-/tmp}/gocache-bench-remote.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
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

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
case "$server" in
    redis)
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$work" --logfile "$work/redis.log" &
        server_pid=$!
        url=redis://127.0.0.1:$port
        version=$(redis-server --version)
        ;;
    http)
        mkdir -p "$work/www/cache"
        cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi; uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:$port; root $work/www; client_max_body_size 0;
    location /cache/ { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
EOF
        nginx -p "$work" -c "$work/nginx.conf" &
        server_pid=$!
        url=http://127.0.0.1:$port/cache
        version=$(nginx -v 2>&1)
        ;;
    *) echo "unknown server $server: redis or http" >&2; exit 2 ;;
esac
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done

echo "== gocache remote benchmark: cargo gocache build --$profile, examples/mixed-sys"
echo "commit    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine   $(nproc) cores, $(uname -sm)"
echo "remote    $url ($version)"

now() { echo "${EPOCHREALTIME/[.,]/}"; } # microseconds, no fork
native_secs() { # timings html -> seconds in build-script runs
    python3 - "$1" <<'EOF' 2>/dev/null || echo "n/a"
import json, sys
s = open(sys.argv[1]).read()
i = s.index("UNIT_DATA = ") + len("UNIT_DATA = ")
units = json.loads(s[i:s.index("];", i) + 1])
print("%.2f" % sum(u["duration"] for u in units if u["mode"] == "run-custom-build"))
EOF
}
target=$work/target
build() { # label store remote -> prints a line, writes "wall native" to $work/label.result
    local label=$1 store=$2 remote=$3
    "$cargo" clean --manifest-path examples/mixed-sys/Cargo.toml --target-dir "$target" 2>/dev/null
    local t0 t1
    t0=$(now)
    CARGO_GOCACHE_DIR=$store CARGO_GOCACHE_REMOTE=$remote CARGO_TARGET_DIR=$target \
        "$gocache" gocache build --profile "$profile" --locked --timings \
        --manifest-path examples/mixed-sys/Cargo.toml 2>"$work/$label.err" ||
        { cat "$work/$label.err" >&2; exit 1; }
    t1=$(now)
    local native wall
    native=$(native_secs "$target/cargo-timings/cargo-timing.html")
    wall=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e6 }')
    printf '%-8s wall %7.2f s   build scripts %7s s   %s\n' "$label" "$wall" "$native" \
        "$(grep -E '^gocache: ([0-9]+ hits?,|no C)' "$work/$label.err" | tail -1)"
    echo "$wall $native" >"$work/$label.result"
}

"$cargo" fetch --locked --manifest-path examples/mixed-sys/Cargo.toml >&2
build cold "$work/local-store" "$url"
for ((r = 1; r <= rounds; r++)); do
    build "local$r" "$work/local-store" off
    rm -rf "$work/empty-store"
    build "remote$r" "$work/empty-store" "$url"
done
avg() { # prefix field -> mean over rounds
    cat "$work/$1"[0-9]*.result | awk -v f="$2" '{ s += $f; n++ } END { printf "%.2f", s / n }'
}
lw=$(avg local 1); ln=$(avg local 2)
rw=$(avg remote 1); rn=$(avg remote 2)
echo "(means over $rounds round(s), local and remote alternating)"
printf 'local    wall %7.2f s   build scripts %7s s\n' "$lw" "$ln"
printf 'remote   wall %7.2f s   build scripts %7s s\n' "$rw" "$rn"
awk -v lw="$lw" -v rw="$rw" -v ln="$ln" -v rn="$rn" 'BEGIN {
    printf "remote/local: wall %.2f", rw / lw
    if (ln > 0) printf ", build scripts %.2f", rn / ln
    printf "\n" }'
