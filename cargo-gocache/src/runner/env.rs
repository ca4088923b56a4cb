//! The environment that routes a build's tools through gocache: `CC_<target>`,
//! `CXX_<target>`, `CC_KNOWN_WRAPPER_CUSTOM` and `AR_<target>`, resolved
//! for each target the way cc resolves them (see the module docs of
//! [`super`] for the order).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use crate::Store;
use anyhow::{Context, Result};

/// Wrappers that cc recognises by name; a user's `CC` starting with one of
/// them is unwrapped so gocache replaces it.
const CC_KNOWN_WRAPPERS: &[&str] = &[
    "ccache",
    "distcc",
    "sccache",
    "icecc",
    "cachepot",
    "buildcache",
    "kache",
];

/// `RUSTC_WRAPPER` (and cargo's config spelling of it) set to this binary,
/// so every rustc invocation goes through the Rust wrapper
/// (`wrapper::rust`). A user's own `RUSTC_WRAPPER` (sccache) is replaced,
/// as a caching `CC` wrapper is; `RUSTC_WORKSPACE_WRAPPER` (clippy) is
/// left alone: cargo runs it inside ours, and the wrapper runs it untouched.
pub(super) fn rustc_wrapper_env(exe: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("RUSTC_WRAPPER".into(), exe.into()),
        ("CARGO_BUILD_RUSTC_WRAPPER".into(), exe.into()),
    ]
}

/// The `CC_<target>`, `CXX_<target>` and `CC_KNOWN_WRAPPER_CUSTOM`
/// variables that route every compile for `targets` through `exe`.
///
/// `getenv` reads the user's environment (a parameter so tests can fake it).
pub(super) fn compiler_env(
    exe: &Path,
    host: &str,
    targets: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(OsString, OsString)>> {
    let exe_str = exe
        .to_str()
        .filter(|s| !s.contains(char::is_whitespace))
        .with_context(|| {
            format!(
                "the path of cargo-gocache, {:?}, has whitespace or is not UTF-8, \
                 and cc splits CC on whitespace; install it elsewhere",
                exe.display()
            )
        })?;
    let exe_name = exe
        .file_stem()
        .and_then(OsStr::to_str)
        .context("cargo-gocache's path has no file name")?
        .to_string();

    let mut known: Vec<String> = CC_KNOWN_WRAPPERS.iter().map(|s| s.to_string()).collect();
    known.push(exe_name.clone());
    if let Some(custom) = getenv("CC_KNOWN_WRAPPER_CUSTOM").filter(|s| !s.is_empty()) {
        known.push(custom);
    }

    let mut env: Vec<(OsString, OsString)> = Vec::new();
    for target in targets {
        if target.contains("-msvc") {
            continue; // cl.exe command lines are not the wrapper's business.
        }
        let kind = if target == host { "HOST" } else { "TARGET" };
        for tool in ["CC", "CXX"] {
            let compiler = match user_tool(getenv, tool, target, kind) {
                Some(value) => match unwrap_user_tool(&value, &known) {
                    Some(c) => c,
                    None => {
                        eprintln!(
                            "gocache: warning: {tool} for {target} ({value:?}) has a path with \
                             whitespace; its compiles run uncached"
                        );
                        continue;
                    }
                },
                None => match default_compiler(target, host, tool == "CXX") {
                    Some(c) => c,
                    None => continue,
                },
            };
            env.push((
                format!("{tool}_{target}").into(),
                format!("{exe_str} {compiler}").into(),
            ));
        }
    }
    env.push(("CC_KNOWN_WRAPPER_CUSTOM".into(), exe_name.into()));
    Ok(env)
}

/// `<store>/bin/gocache-ar`, a symbolic link to this binary, (re)made if it
/// does not point at `exe`.
pub(super) fn ar_link(store: &Store, exe: &Path) -> Result<PathBuf> {
    link_to(&store.root().join("bin"), crate::wrapper::ar::AR_NAME, exe)
}

/// `dir/name`, a symbolic link to `exe`, (re)made if it does not point at it.
fn link_to(dir: &Path, name: &str, exe: &Path) -> Result<PathBuf> {
    let link = dir.join(name);
    if fs::read_link(&link).is_ok_and(|t| t == exe) {
        return Ok(link);
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A new link beside it, renamed over: concurrent runs never see none.
    let tmp = dir.join(format!(".{name}-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(exe, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    #[cfg(not(unix))]
    fs::copy(exe, &tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    fs::rename(&tmp, &link).with_context(|| format!("cannot create {}", link.display()))?;
    Ok(link)
}

/// `PATH` with `<store>/bin/masq/<names>` first, and [`masquerade::DIR_VAR`]
/// naming it: the directory holding a link to `exe` for each bare compiler
/// name in `compilers` (the `CC_<target>`/`CXX_<target>` values set by
/// [`compiler_env`], `exe compiler [args]`). See `wrapper::masquerade` for
/// why and for what keeps it safe.
///
/// - Only names that look like a C or C++ compiler (`cc`, `gcc-12`,
///   `clang++`, `aarch64-linux-gnu-gcc`...) and are a program on `PATH`:
///   `CC="zig cc"` must not put a `zig` (nor `CC="env X=1 gcc"` an `env`)
///   in front of the real one, and a cross compiler cc merely guessed must
///   not appear installed to `configure`'s `AC_CHECK_TOOL`.
/// - One directory per set of names (`masq/<hash>`), so a run puts exactly
///   its own names on `PATH`, and two projects on one store never see
///   each other's.
/// - None when the user set a CMake compiler launcher: CMake would resolve
///   `gcc` to the link and run it behind *that* launcher, and ccache or
///   sccache would then key this binary instead of the compiler.
///
/// No name left: nothing to set.
///
/// [`masquerade::DIR_VAR`]: crate::wrapper::masquerade::DIR_VAR
pub(super) fn masquerade_env(
    store: &Store,
    exe: &Path,
    compilers: &[(OsString, OsString)],
    path: Option<OsString>,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(OsString, OsString)>> {
    if ["CMAKE_C_COMPILER_LAUNCHER", "CMAKE_CXX_COMPILER_LAUNCHER"]
        .iter()
        .any(|v| getenv(v).is_some_and(|l| !l.is_empty()))
    {
        return Ok(Vec::new());
    }
    let masq_root = store.root().join("bin").join("masq");
    let on_path = |name: &str| {
        path.iter()
            .flat_map(std::env::split_paths)
            .filter(|d| d.is_absolute() && !d.starts_with(&masq_root))
            .any(|d| {
                let p = d.join(name);
                p.is_file() && fs::canonicalize(&p).ok() != fs::canonicalize(exe).ok()
            })
    };
    let names = masquerade_names(compilers, &on_path);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let set = crate::key::hash::hex(&crate::key::hash::hash_bytes(names.join("\n").as_bytes()));
    let dir = masq_root.join(&set[..12]);
    for name in &names {
        link_to(&dir, name, exe)?;
    }
    let dirs = std::iter::once(dir.clone()).chain(
        path.iter()
            .flat_map(std::env::split_paths)
            .filter(|d| !d.starts_with(&masq_root)),
    );
    let path = std::env::join_paths(dirs)
        .with_context(|| format!("cannot put {} on PATH", dir.display()))?;
    Ok(vec![
        ("PATH".into(), path),
        (crate::wrapper::masquerade::DIR_VAR.into(), dir.into()),
    ])
}

/// The names [`masquerade_env`] links, sorted: the bare compiler of each
/// `CC_<target>`/`CXX_<target>` value that looks like a compiler and is a
/// program on `PATH` (`on_path`), and with cc's platform defaults `cc`
/// and `c++`, the GNU names `gcc` and `g++` when installed: make and
/// autoconf default to those (LuaJIT's `DEFAULT_CC = gcc` builds its host
/// tools with `HOST_CC=gcc`; autoconf tries `gcc` before `cc`), so a build
/// system handed no compiler at all compiles with the same compiler cc
/// would have used, under the other name. A `CC=clang` adds no `gcc`:
/// what a build system runs instead of the user's compiler is not ours to
/// cache.
fn masquerade_names(
    compilers: &[(OsString, OsString)],
    on_path: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut names: Vec<String> = compilers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            (k.starts_with("CC_") || k.starts_with("CXX_")) && k != "CC_KNOWN_WRAPPER_CUSTOM"
        })
        .filter_map(|(_, v)| v.to_str()?.split_whitespace().nth(1).map(str::to_string))
        .filter(|c| !c.contains('/') && looks_like_a_compiler(c) && on_path(c))
        .collect();
    for (default, gnu) in [("cc", "gcc"), ("c++", "g++")] {
        if names.iter().any(|n| n == default) && on_path(gnu) {
            names.push(gnu.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// `cc`, `c++`, `gcc`, `g++`, `clang`, `clang++`, with a target prefix
/// (`aarch64-linux-gnu-gcc`) or a version suffix (`gcc-12`, `clang-14`).
fn looks_like_a_compiler(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let base = base.strip_suffix('-').unwrap_or(base);
    ["cc", "c++", "gcc", "g++", "clang", "clang++"]
        .iter()
        .any(|c| base == *c || base.ends_with(&format!("-{c}")))
}

/// `AR_<target>` = `<link>` and `CARGO_GOCACHE_AR_<target>` = the archiver
/// cc would use, for every target ([`archiver_vars`]).
///
/// Why a link named `gocache-ar` rather than `cargo-gocache ar`: cc reads
/// `AR` through the same `env_tool` as `CC`, which treats a first word named
/// like a known wrapper (and `CC_KNOWN_WRAPPER_CUSTOM=cargo-gocache` makes
/// ours one) as a wrapper to drop for the archiver: `cargo-gocache ar`
/// would silently run plain `ar`. A first word cc does not know is run as
/// the program, with the rest as its first arguments.
pub(super) fn archiver_env(
    link: &Path,
    host: &str,
    targets: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Vec<(OsString, OsString)> {
    let Some(link) = link.to_str().filter(|s| !s.contains(char::is_whitespace)) else {
        return Vec::new();
    };
    let mut env = Vec::new();
    for target in targets {
        if target.contains("-msvc") {
            continue;
        }
        let kind = if target == host { "HOST" } else { "TARGET" };
        let real = match user_tool(getenv, "AR", target, kind) {
            Some(v) if !v.contains(char::is_whitespace) => v,
            Some(_) => continue, // arguments or spaces: leave it as the user set it
            None => match default_archiver(target, host) {
                Some(a) => a,
                None => continue,
            },
        };
        env.extend(archiver_vars(link, target, &real));
    }
    env
}

/// The two variables that route `target`'s archiver through the wrapper:
/// `AR_<target>` is the wrapper alone, so a build script that passes on
/// only cc's archiver program (openssl-src's `AR`, CMake's `CMAKE_AR`,
/// make's `$(AR)`) still reaches it, and the real archiver goes in
/// `CARGO_GOCACHE_AR_<target>`, where the wrapper looks through cargo's
/// `TARGET` (see `wrapper::ar`'s module docs).
fn archiver_vars(link: &str, target: &str, real: &str) -> [(OsString, OsString); 2] {
    [
        (format!("AR_{target}").into(), link.into()),
        (crate::wrapper::ar::real_ar_var(target).into(), real.into()),
    ]
}

/// `CMAKE_C_COMPILER_LAUNCHER` and `CMAKE_CXX_COMPILER_LAUNCHER` = this
/// binary, for those the user has not set.
///
/// The `cmake` crate passes `-DCMAKE_<LANG>_COMPILER=<cc's compiler.path()>`,
/// the real compiler without the `CC_<target>` wrapper (it drops wrapper
/// and arguments alike), so CMake-built crates would compile uncached.
/// CMake (3.17 and later) reads the launchers from the environment when a
/// project enables a language, including every `try_compile` project, and
/// runs `<launcher> <compiler> <args>` for each compile, which is the
/// wrapper's own `cargo-gocache <compiler> ...` form; the crate passes
/// nothing that overrides them. Links and CMake's compiler identification
/// run the compiler directly. `ASM` has no launcher in CMake. A user's own
/// launcher (even `ccache`) is kept: it is a choice, not cc's default.
/// A path with `;` would be split as a CMake list, so then none is set.
pub(super) fn cmake_launcher_env(
    exe: &Path,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Vec<(OsString, OsString)> {
    if exe.to_string_lossy().contains(';') {
        return Vec::new();
    }
    ["CMAKE_C_COMPILER_LAUNCHER", "CMAKE_CXX_COMPILER_LAUNCHER"]
        .into_iter()
        .filter(|name| getenv(name).is_none())
        .map(|name| (name.into(), exe.into()))
        .collect()
}

/// A `cc::Build` for asking cc which tools it would pick for `target`
/// (quietly: no cargo directives printed).
fn cc_for(target: &str, host: &str) -> cc::Build {
    let mut b = cc::Build::new();
    b.target(target)
        .host(host)
        .opt_level(0)
        .debug(false)
        .cargo_metadata(false)
        .cargo_warnings(false);
    b
}

/// The archiver cc picks for `target` when no variable names one.
fn default_archiver(target: &str, host: &str) -> Option<String> {
    if target == host {
        return Some("ar".to_string());
    }
    let cmd = cc_for(target, host).try_get_archiver().ok()?;
    let prog = cmd.get_program().to_str()?;
    (!prog.contains(char::is_whitespace)).then(|| prog.to_string())
}

/// The user's value for `tool` on `target`, looked up as cc does: the first
/// variable that is set wins, even if empty (cc then uses its default).
fn user_tool(
    getenv: &dyn Fn(&str) -> Option<String>,
    tool: &str,
    target: &str,
    kind: &str,
) -> Option<String> {
    let target_u = target.replace(['-', '.'], "_");
    [
        format!("{tool}_{target}"),
        format!("{tool}_{target_u}"),
        format!("{kind}_{tool}"),
        tool.to_string(),
    ]
    .iter()
    .find_map(|name| getenv(name))
    .map(|v| v.trim().to_string())
    .filter(|v| !v.is_empty())
}

/// The compiler and its arguments from a user's `CC` value, with a leading
/// known wrapper dropped. `None` when the value can't be passed through cc's
/// whitespace split (an existing path with spaces in it).
fn unwrap_user_tool(value: &str, known_wrappers: &[String]) -> Option<String> {
    if value.contains(char::is_whitespace) && Path::new(value).is_file() {
        return None;
    }
    let mut words: Vec<&str> = value.split_whitespace().collect();
    let is_wrapper = |w: &str| {
        let stem = Path::new(w)
            .file_stem()
            .and_then(OsStr::to_str)
            .unwrap_or("");
        known_wrappers.iter().any(|k| k.eq_ignore_ascii_case(stem))
    };
    while words.len() > 1 && is_wrapper(words[0]) {
        words.remove(0);
    }
    Some(words.join(" "))
}

/// The compiler cc picks for `target` when no variable names one.
fn default_compiler(target: &str, host: &str, cxx: bool) -> Option<String> {
    if target == host {
        // cc's native default (`traditional` in `get_base_compiler`).
        let c = match (cfg!(any(target_os = "solaris", target_os = "illumos")), cxx) {
            (false, false) => "cc",
            (false, true) => "c++",
            (true, false) => "gcc",
            (true, true) => "g++",
        };
        return Some(c.to_string());
    }
    // Cross: cc's own table of prefixes (`aarch64-linux-gnu-gcc`...),
    // `CROSS_COMPILE` and the rest; asking cc keeps us in step with it.
    let tool = cc_for(target, host).cpp(cxx).try_get_compiler().ok()?;
    let path = tool.path().to_str()?;
    (!path.contains(char::is_whitespace)).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn assembled(vars: &[(&str, &str)], targets: &[&str]) -> HashMap<String, String> {
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        compiler_env(
            Path::new("/opt/bin/cargo-gocache"),
            HOST,
            &targets,
            &env_of(vars),
        )
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
        .collect()
    }

    fn archivers(vars: &[(&str, &str)], targets: &[&str]) -> HashMap<String, String> {
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        archiver_env(
            Path::new("/store/bin/gocache-ar"),
            HOST,
            &targets,
            &env_of(vars),
        )
        .into_iter()
        .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
        .collect()
    }

    /// openssl-src passes on only `cc.get_archiver().get_program()`, which
    /// lost the real archiver when it was `AR_<target>`'s second word.
    #[test]
    fn archiver_program_alone_is_the_wrapper_and_the_real_one_is_in_the_environment() {
        let env = archivers(&[], &[HOST]);
        assert_eq!(env["AR_x86_64-unknown-linux-gnu"], "/store/bin/gocache-ar");
        assert_eq!(env["CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu"], "ar");
        let env = archivers(&[("AR", "llvm-ar-14")], &[HOST]);
        assert_eq!(
            env["CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu"],
            "llvm-ar-14"
        );
        let env = archivers(
            &[("AR_aarch64_unknown_linux_gnu", "/opt/x/bin/aarch64-ar")],
            &[HOST, "aarch64-unknown-linux-gnu"],
        );
        assert_eq!(
            env["CARGO_GOCACHE_AR_aarch64_unknown_linux_gnu"],
            "/opt/x/bin/aarch64-ar"
        );
        assert_eq!(env["CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu"], "ar");
        // An archiver with arguments is left as the user set it.
        assert!(archivers(&[("AR", "emar --x")], &[HOST]).is_empty());
    }

    #[test]
    fn cmake_launchers_are_the_wrapper_unless_the_user_set_them() {
        let exe = Path::new("/opt/bin/cargo-gocache");
        let env: HashMap<OsString, OsString> =
            cmake_launcher_env(exe, &env_of(&[])).into_iter().collect();
        assert_eq!(env[OsStr::new("CMAKE_C_COMPILER_LAUNCHER")], exe);
        assert_eq!(env[OsStr::new("CMAKE_CXX_COMPILER_LAUNCHER")], exe);
        let env = cmake_launcher_env(exe, &env_of(&[("CMAKE_C_COMPILER_LAUNCHER", "ccache")]));
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "CMAKE_CXX_COMPILER_LAUNCHER");
        assert!(cmake_launcher_env(Path::new("/a;b/cargo-gocache"), &env_of(&[])).is_empty());
    }

    #[test]
    fn native_build_wraps_cc_defaults() {
        let env = assembled(&[], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache cc"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache c++"
        );
        assert_eq!(env["CC_KNOWN_WRAPPER_CUSTOM"], "cargo-gocache");
    }

    #[test]
    fn user_compiler_stays_the_compiler_with_its_args() {
        let env = assembled(&[("CC", "/usr/bin/clang -m64"), ("CXX", "g++-12")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache /usr/bin/clang -m64"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache g++-12"
        );
    }

    #[test]
    fn target_specific_variables_win_in_cc_order() {
        let env = assembled(
            &[
                ("CC", "plain-cc"),
                ("HOST_CC", "host-cc"),
                ("CC_x86_64_unknown_linux_gnu", "underscored-cc"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache underscored-cc"
        );
        let env = assembled(&[("CC", "plain-cc"), ("HOST_CC", "host-cc")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache host-cc"
        );
    }

    #[test]
    fn host_and_target_compilers_stay_distinct_when_cross_compiling() {
        let env = assembled(
            &[
                ("HOST_CC", "gcc"),
                ("TARGET_CC", "aarch64-linux-gnu-gcc"),
                ("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++"),
            ],
            &[HOST, "aarch64-unknown-linux-gnu"],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache gcc"
        );
        assert_eq!(
            env["CC_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            env["CXX_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-g++"
        );
        // The host's C++ compiler is cc's default, not the target's.
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache c++"
        );
    }

    #[test]
    fn cross_default_comes_from_cc() {
        let env = assembled(&[], &[HOST, "aarch64-unknown-linux-gnu"]);
        assert_eq!(
            env["CC_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-gcc"
        );
    }

    #[test]
    fn a_users_caching_wrapper_is_replaced_not_chained() {
        let env = assembled(
            &[
                ("CC", "ccache gcc -O1"),
                ("CXX", "/usr/local/bin/cargo-gocache g++"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache gcc -O1"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache g++"
        );
        let env = assembled(
            &[
                ("CC", "mywrap clang"),
                ("CC_KNOWN_WRAPPER_CUSTOM", "mywrap"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache clang"
        );
        assert_eq!(env["CC_KNOWN_WRAPPER_CUSTOM"], "cargo-gocache");
    }

    #[test]
    fn empty_user_variable_means_cc_default() {
        let env = assembled(&[("CC", "  ")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache cc"
        );
    }

    #[test]
    fn binary_path_with_spaces_is_refused() {
        let r = compiler_env(
            Path::new("/opt/my bin/cargo-gocache"),
            HOST,
            &[HOST.to_string()],
            &env_of(&[]),
        );
        assert!(r.is_err());
    }

    #[test]
    fn the_default_cc_brings_the_gnu_names_when_installed() {
        let set = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect()
        };
        let everything = |_: &str| true;
        let defaults = set(&[
            ("CC_x86_64_unknown_linux_gnu", "/bin/cargo-gocache cc"),
            ("CXX_x86_64_unknown_linux_gnu", "/bin/cargo-gocache c++"),
            ("CC_KNOWN_WRAPPER_CUSTOM", "cargo-gocache"),
        ]);
        assert_eq!(
            masquerade_names(&defaults, &everything),
            ["c++", "cc", "g++", "gcc"]
        );
        // Not installed: not linked (configure must not find a gcc that is not there).
        assert_eq!(
            masquerade_names(&defaults, &|n: &str| n == "cc" || n == "c++"),
            ["c++", "cc"]
        );
        // The user's clang: no gcc in front of it.
        let clang = set(&[("CC_x86_64_unknown_linux_gnu", "/bin/cargo-gocache clang")]);
        assert_eq!(masquerade_names(&clang, &everything), ["clang"]);
    }

    #[test]
    fn only_compiler_names_are_masqueraded() {
        for yes in [
            "cc",
            "c++",
            "gcc",
            "g++-12",
            "clang",
            "clang++-14",
            "aarch64-linux-gnu-gcc",
            "gcc-12.2",
        ] {
            assert!(looks_like_a_compiler(yes), "{yes}");
        }
        for no in [
            "zig",
            "env",
            "ccache",
            "sccache",
            "distcc",
            "cargo-gocache",
            "make",
        ] {
            assert!(!looks_like_a_compiler(no), "{no}");
        }
    }
}
