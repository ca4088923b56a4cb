# Sourced by the bench scripts (not run): `--baseline REV`, an older
# cargo-gocache measured beside the current one in the same run, so "not
# slower than REV" is one comparison on one machine at one load instead of
# two runs hours apart; and callgrind's instruction counts, which barely move
# on a shared machine where wall times drift by 10%.

# baseline_build REV DIR: builds REV's cargo-gocache (release) in a temporary
# git worktree, DIR/baseline-src, with its own target dir, so the tree under
# test and its target dir are left alone; copies the binary to
# DIR/baseline/cargo-gocache and removes the worktree and target dir. The
# copy keeps the name cargo-gocache: the binary picks its mode from the name
# it is run as.
baseline_build() {
    local rev=$1 dir=$2
    git rev-parse --verify -q "$rev^{commit}" >/dev/null || { echo "--baseline: no commit $rev" >&2; exit 2; }
    echo "building $rev's cargo-gocache in $dir/baseline-src" >&2
    git worktree add -q --detach "$dir/baseline-src" "$rev" >&2
    (cd "$dir/baseline-src" &&
        CARGO_TARGET_DIR=$dir/baseline-target "${CARGO:-cargo}" build --release --locked -p cargo-gocache >&2)
    mkdir -p "$dir/baseline"
    cp "$dir/baseline-target/release/cargo-gocache" "$dir/baseline/cargo-gocache"
    baseline_remove "$dir"
}

# baseline_remove DIR: what baseline_build leaves while it runs; for the exit
# trap too (an interrupted build would leave a registered worktree behind).
baseline_remove() {
    if [ -d "$1/baseline-src" ]; then
        git worktree remove --force "$1/baseline-src" >&2 || true
    fi
    rm -rf "$1/baseline-target"
}

# instructions CMD...: the instructions callgrind counts in one run of CMD
# and of the processes it starts (a hit starts none), or nothing without
# valgrind.
instructions() {
    command -v valgrind >/dev/null || return 0
    local d
    d=$(mktemp -d)
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$d/out.%p" --log-file="$d/log.%p" "$@" >/dev/null 2>&1 || true
    cat "$d"/out.* 2>/dev/null | awk '/^summary:/ {n += $2; p++} END {if (p == 1) print n; else if (p) print n " (" p " processes)"}'
    rm -rf "$d"
}
