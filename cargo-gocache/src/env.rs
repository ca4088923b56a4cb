//! The one place that reads the environment.
//!
//! Every variable gocache reads goes through [`var`], so the full list is
//! below and a build script using the helper can tell cargo to rerun when one
//! changes (see [`record_reads`]). The helper's client, in a user's build
//! script, reads only `CARGO_GOCACHE_DIR` (for `off`), `CARGO_GOCACHE_PROG`,
//! `PATH` (to find the binary) and `OUT_DIR`, and prints its own rerun lines.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `CARGO_GOCACHE_DIR` | the store's directory (absolute), or `off` to disable caching |
//! | `CARGO_GOCACHE_DEBUG` | comma-separated debug switches: `hash` prints every line hashed into an ID; `panic` makes the compiler wrapper panic (to test its fallback); `miss-phases` prints where a C compile's time went (and a build script's lookup) |
//! | `CARGO_GOCACHE_OWN_BINARY` | set by `cargo gocache`: its binary's stamp and hash, so that build-script launchers (links to it) are not hashed again (`crate::wrapper::filememo`) |
//! | `XDG_CACHE_HOME`, `HOME` | the default store location on Linux and macOS |
//! | `LOCALAPPDATA` | the default store location on Windows |
//! | `PATH` | finding the compiler named on a command line |
//! | `CARGO`, `RUSTC`, `CARGO_BUILD_TARGET`, `CARGO_HOME`, `CC`, `CXX` (and `CC_<target>`, `HOST_CC`, `TARGET_CC`... as `cc` reads them), `CC_KNOWN_WRAPPER_CUSTOM` | read by `cargo gocache <cargo subcommand>` to run cargo and wrap the compilers `cc` would use |
//! | `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, `CARGO_PKG_VERSION`, `OUT_DIR` | set by cargo for build scripts: directories relocated to stable names (see [`crate::cmdline`]); the helper's archive goes in `OUT_DIR` |
//! | `CARGO_GOCACHE_WORKSPACE` | set by `cargo gocache`: the workspace root, relocated to `/gocache/workspace` |
//! | `CARGO_GOCACHE_CARGO_HOME`, `CARGO_HOME` | the cargo home relocated to `/gocache/cargo-home` (else `$HOME/.cargo`) |
//! | `CARGO_GOCACHE_VERIFY` | `1`: compile every hit too and report a result that differs (set by `cargo gocache --verify`) |
//! | `CARGO_GOCACHE_REMOTE` | set by `cargo gocache`: the remote tier |
//! | `CARGO_GOCACHE_PROG` | set by `cargo gocache` to itself: the binary a build script's helper runs (`serve-helper`) |
//! | `CARGO_GOCACHE_MASQUERADE` | set by `cargo gocache`: the directory of compiler links first on `PATH`, which every process of the binary takes out of its own `PATH` (`wrapper::masquerade`) |
//! | `CARGO_GOCACHE_FORMATS` | set by `cargo gocache`: the store format of the binary, which the helper's server checks its own against ([`crate::version`]) |
//! | `CARGO_GOCACHE_MAX_SIZE`, `CARGO_GOCACHE_MAX_AGE`, `CARGO_GOCACHE_REMOTE_READ_ONLY`, `CARGO_GOCACHE_REMOTE_WRITE`, `CARGO_GOCACHE_REMOTE_TIMEOUT` | settings (see `cargo gocache config`): the trim policy and the remote tier's behaviour |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` | an `s3://` remote's credentials, region and endpoint (`remote::s3`) |
//! | `CI`, `GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`, `GITHUB_REF_PROTECTED`, `GITHUB_REF`, `GITHUB_EVENT_PATH`, `GITLAB_CI`, `CI_COMMIT_REF_PROTECTED`, `CI_PIPELINE_SOURCE`, `CI_MERGE_REQUEST_IID` | whether this build writes to the remote (`remote-write`, [`crate::trust`]) |
//! | `CARGO_GOCACHE_TIME_MACROS` | setting (`cargo gocache config`): `pin` caches compiles that use `__DATE__`/`__TIME__`, run with `SOURCE_DATE_EPOCH` fixed |
//! | `CARGO_GOCACHE_PATHS` | setting (`cargo gocache config`): `exact` turns relocation off (C's `-ffile-prefix-map`, rustc's `--remap-path-prefix`) and keys real paths |
//! | `CARGO_GOCACHE_BUILD_SCRIPTS` | setting (`cargo gocache config`): `cache` looks build-script runs up first (`wrapper::buildscript`) |
//! | `CARGO_GOCACHE_OBSERVER_EXEC` | set by an observed build-script run (`build-scripts = "cache"`): the socket where the compiler wrapper runs a miss's compiles beside the observation (`observe::delegate`) |
//! | `CARGO_GOCACHE_MAP_CWD` | true (`1`, `true`, `yes`, `on`): outside a build script, relocate the working directory to `/gocache/cwd` |
//! | `CPATH`, `C_INCLUDE_PATH`, `CPLUS_INCLUDE_PATH`, `OBJC_INCLUDE_PATH`, `OBJCPLUS_INCLUDE_PATH`, `SOURCE_DATE_EPOCH`, `GCC_EXEC_PREFIX`, `COMPILER_PATH`, `LIBRARY_PATH`, `GCC_COMPARE_DEBUG`, `LANG`, `LC_ALL`, `LC_CTYPE`, `LC_MESSAGES`, `GCC_COLORS`, `CCC_OVERRIDE_OPTIONS`, `SDKROOT`, `MACOSX_DEPLOYMENT_TARGET`, `IPHONEOS_DEPLOYMENT_TARGET` | change the compiler's output: hashed into compile keys ([`crate::cmdline::KEY_ENV`]) |
//! | `DEPENDENCIES_OUTPUT`, `SUNPRO_DEPENDENCIES` | make the compiler write a depfile of its own: the compile is not cached |
//! | `CARGO_GOCACHE_TEST_CPUINFO` | tests only: a file read in place of `/proc/cpuinfo` for the CPU fingerprint of `native` resolutions ([`crate::key::native`]) |
//! | `PWD` | the working directory as the compiler records it, when it names the working directory ([`crate::cmdline::compiler_cwd`]) |
//! | `CARGO_GOCACHE_AR_<target>` (with `_` for `-`), `TARGET` | set by `cargo gocache` / cargo: the real archiver the archiver wrapper runs for the build script's target |

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{Error, ErrorKind, Result};

static RECORDING: AtomicBool = AtomicBool::new(false);
static READ: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember every variable read from now on (see [`take_reads`]).
///
/// The helper's server (`cargo-gocache gocache serve-helper`) turns this
/// on and hands the names to the build script, which prints
/// `cargo:rerun-if-env-changed` for each: a change to any variable that
/// affects caching reruns the build script. (It cannot print them itself:
/// its stdout is the protocol.)
pub fn record_reads(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
}

/// The variables read since [`record_reads`] (or the last call), in order,
/// each once.
pub fn take_reads() -> Vec<String> {
    READ.lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default()
}

/// Variables that never change what is built, so a change must not rerun a
/// build script. (`cargo gocache` sets nothing that changes from run to
/// run: per-run state is found by [`crate::run`].)
///
/// `PWD` too: cargo passes its own on to build scripts, so it changes with
/// the directory cargo is run from; it only counts when it names the build
/// script's working directory (see [`crate::cmdline::compiler_cwd`]), and
/// cargo would not rerun a build script for it either.
///
/// `CARGO_GOCACHE_OWN_BINARY` too: it only spares hashing gocache's own
/// binary (`crate::wrapper::filememo`), and changes with every install.
const UNTRACKED: &[&str] = &["CARGO_GOCACHE_DEBUG", "PWD", "CARGO_GOCACHE_OWN_BINARY"];

/// The `CARGO_GOCACHE_*` variables that are not settings: set by `cargo
/// gocache` for the processes of a build, or debug switches. With the
/// settings' ([`crate::settings::SETTINGS`]) they are every variable gocache
/// reads (the table above); any other is taken for a typo
/// (`crate::settings::unknown_gocache_variables`).
pub const GOCACHE_VARIABLES: &[&str] = &[
    "CARGO_GOCACHE_DEBUG",
    "CARGO_GOCACHE_FORMATS",
    "CARGO_GOCACHE_MAP_CWD",
    "CARGO_GOCACHE_WORKSPACE",
    "CARGO_GOCACHE_CARGO_HOME",
    "CARGO_GOCACHE_PROG",
    "CARGO_GOCACHE_MASQUERADE",
    "CARGO_GOCACHE_TEST_CPUINFO",
    "CARGO_GOCACHE_OBSERVER_EXEC",
    "CARGO_GOCACHE_OWN_BINARY",
];

/// Families of `CARGO_GOCACHE_*` variables with a name per target:
/// `CARGO_GOCACHE_AR_<target>` is the real archiver `cargo gocache` set for
/// the archiver wrapper.
pub const GOCACHE_VARIABLE_PREFIXES: &[&str] = &["CARGO_GOCACHE_AR_"];

/// Read an environment variable; `None` if unset.
pub fn var_os(name: &str) -> Option<OsString> {
    if RECORDING.load(Ordering::Relaxed) && !UNTRACKED.contains(&name) {
        if let Ok(mut read) = READ.lock() {
            if !read.iter().any(|n| n == name) {
                read.push(name.to_string());
            }
        }
    }
    #[allow(clippy::disallowed_methods)]
    std::env::var_os(name)
}

/// Read an environment variable as UTF-8; `None` if unset or not UTF-8.
pub fn var(name: &str) -> Option<String> {
    var_os(name).and_then(|v| v.into_string().ok())
}

/// Is the debug switch `what` on in `CARGO_GOCACHE_DEBUG` (e.g. `hash`)?
pub fn debug(what: &str) -> bool {
    var("CARGO_GOCACHE_DEBUG").is_some_and(|v| v.split(',').any(|s| s.trim() == what))
}

/// `CARGO_GOCACHE_DEBUG=miss-phases`: where a compile's time goes, as
/// milliseconds since the wrapper started, one line per step reached
/// (`gocache: phase compiled 171.0`); how the cost of a miss (and of a
/// build script's lookup) was found.
pub fn phase(name: &str) {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    static ON: OnceLock<bool> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    if *ON.get_or_init(|| debug("miss-phases")) {
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        eprintln!("gocache: phase {name} {ms:.1} {}", std::process::id());
    }
}

/// Where the store lives: `Ok(None)` when caching is off (`CARGO_GOCACHE_DIR=off`).
///
/// `CARGO_GOCACHE_DIR` if set and not empty; otherwise the platform cache
/// directory: `$XDG_CACHE_HOME/cargo-gocache`, else `~/.cache/cargo-gocache`
/// on Linux and other Unix, `~/Library/Caches/cargo-gocache` on macOS,
/// `%LOCALAPPDATA%\cargo-gocache` on Windows. A relative
/// `CARGO_GOCACHE_DIR` is an error: resolved against each build script's own
/// working directory it would scatter stores over the tree.
pub fn cache_dir() -> Result<Option<PathBuf>> {
    if let Some(dir) = var_os("CARGO_GOCACHE_DIR").filter(|v| !v.is_empty()) {
        if dir == "off" {
            return Ok(None);
        }
        let path = PathBuf::from(&dir);
        if !path.is_absolute() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "CARGO_GOCACHE_DIR must be an absolute path, got {:?}",
                    path.display().to_string()
                ),
            ));
        }
        return Ok(Some(path));
    }
    default_cache_dir().map(Some)
}

/// The platform's default store location (ignoring `CARGO_GOCACHE_DIR`).
pub fn default_cache_dir() -> Result<PathBuf> {
    let missing = || {
        Error::new(
            ErrorKind::Config,
            "cannot find a cache directory: set CARGO_GOCACHE_DIR (or HOME)",
        )
    };
    if cfg!(windows) {
        let base = var_os("LOCALAPPDATA")
            .filter(|v| !v.is_empty())
            .ok_or_else(missing)?;
        return Ok(PathBuf::from(base).join("cargo-gocache"));
    }
    let home = || var_os("HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return Ok(home()
            .ok_or_else(missing)?
            .join("Library/Caches/cargo-gocache"));
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(xdg) = var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Ok(xdg.join("cargo-gocache"));
    }
    Ok(home().ok_or_else(missing)?.join(".cache/cargo-gocache"))
}
