//! The key of a build-script run: the pre-key (known before it runs) and
//! the observed inputs of each manifest entry.
//!
//! # Pre-key
//!
//! | line | why |
//! | --- | --- |
//! | `salt gocache-build-script v1` | a format change must not meet old entries |
//! | `gocache <version>` | the wrappers the run calls are this binary's |
//! | `exe <sha256>` | the build script itself (compiled with stable paths, so the same in any checkout) |
//! | `cwd <dir>` | its working directory (cargo's: the package), mapped |
//! | `arg <arg>` | its arguments (cargo gives none), mapped |
//! | `env NAME=VALUE` | **every** variable of its environment, sorted, machine directories mapped: a shell reads its whole environment without calling `getenv`, so "the variables the script asked for" would not do |
//!
//! Left out of the environment, and why:
//! * `CARGO_MAKEFLAGS`, `MAKEFLAGS`, `MFLAGS`: cargo's jobserver, whose
//!   descriptors or FIFO path change with every run; they say how many
//!   jobs may run at once, not what is built.
//! * `_`: the last command a shell ran, set by shells for their children.
//! * `CARGO_GOCACHE_DEBUG`, `CARGO_GOCACHE_VERIFY`, and the settings of
//!   the store's upkeep and its remote (`CARGO_GOCACHE_MAX_SIZE`, `_MAX_AGE`,
//!   `_REMOTE*`): debug output, checking, where results are kept; none
//!   changes what a compile or a run produces. (`_TIME_MACROS` does, and
//!   stays.)
//! * `CARGO_GOCACHE_OBSERVER_EXEC`: the socket of an observation around
//!   this one (a build script run by a build script), new every run; it
//!   only says where compiles may run (`crate::observe::delegate`).
//! * `CARGO_GOCACHE_OWN_BINARY`: the device, inode and hash of this
//!   machine's `cargo-gocache`, so that a launcher (a link to it) need not
//!   be read to be hashed; keyed it would tie every entry to one install.
//!   Where a run executes the binary, its content is an input as any
//!   program's is.
//! * `PWD` when it does not name the working directory: cargo passes on the
//!   directory it was started in; shells and compilers ignore a `PWD` that
//!   is not the working directory (one that is stays, mapped).
//! * The **values** (never the names) of the variables that name a session
//!   or a CI run rather than a build ([`is_volatile`]): `SHLVL` (one more
//!   for every shell between the terminal and cargo), `OLDPWD`, the
//!   terminal's and the login's identifiers, and the per-run variables of
//!   CI services (`GITHUB_*`, `ACTIONS_*`, `RUNNER_*`, `CI_*`,
//!   `BUILDKITE_*`, `CIRCLE_*`, Jenkins' `BUILD_*`). Keyed by value, every
//!   new terminal and every CI run would run every build script again.
//!   They are not trusted blindly: the name is keyed (set or not), and a
//!   run whose stdout, stderr or `OUT_DIR` holds the value (or, for a
//!   commit hash, its 7-character short form) keys it in its manifest entry
//!   (input `e`, the value's hash), so that entry hits only with the same
//!   value. What this cannot see: a value used in a form other than its
//!   text (hashed, compared, counted); values under 4 characters
//!   (`SHLVL=2`, `GITHUB_RUN_ATTEMPT=1`), which would be found by chance in
//!   nearly any output and are never searched; and a value naming a
//!   directory the key maps (`OLDPWD` after `cd` from the checkout), whose
//!   text in the output is that directory's, already mapped or tied to the
//!   entry: a script that embeds such a variable itself is not told apart.
//!   Nor is gocache's own path searched in stdout and stderr (cc prints
//!   the `CC` that names it): `CC` is keyed as it is, and searched, the
//!   path would key nearly every cc run on an `OLDPWD` above the binary
//!   (the user's home). A script that prints `$OLDPWD/.cargo/bin/...`
//!   is not told apart from it either.
//!
//! Machine directories, mapped to stable names wherever they appear
//! (`OUT_DIR`, the package, the target directory, the workspace, the cargo
//! home, the store, this binary): the key then holds in a second checkout,
//! a new target directory and on another machine. Where the run's output
//! holds one of them, the entry pins their real values ([`Context::pins`]):
//! it then hits after `cargo clean`, never in another checkout.
//!
//! # Inputs (the manifest entry)
//!
//! Every path the observer saw the run touch, with its state after the run:
//! `r` (followed: `file <sha256>`, `dir`, `absent`), `l` (not followed:
//! `link <target>`, or as `r`), `d` (a listing: the names and types of a
//! directory's entries), `c` (`/proc/cpuinfo` without its clock lines). Not
//! inputs: `OUT_DIR` (empty at the start, checked), the store, `/proc` and
//! `/sys` (processes and resource counts, not the build's inputs; except
//! `/proc/cpuinfo`), `/dev/null` and the like, a temporary file the run
//! made and removed, the listing of a temporary directory itself.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::key::hash::{hash_bytes, hex, ActionId, KeyHasher};
use crate::key::pathmap::TextMap;
use crate::observe::{Access, Observation};
use crate::wrapper::filememo::FileMemo;
use crate::Store;

const SALT: &str = "salt gocache-build-script v1";
const MANIFEST_HEADER: &str = "gocache-build-script-manifest v1";
/// Manifests keep at most this many observed sets (newest first).
const MAX_ENTRIES: usize = 16;

/// The run's directories and how they map.
pub(super) struct Context {
    pub(super) out_dir: PathBuf,
    pub(super) cwd: PathBuf,
    pub(super) store_root: PathBuf,
    temp_dirs: Vec<PathBuf>,
    /// The package, `OUT_DIR`, the target directory, the workspace.
    build_dirs: Vec<PathBuf>,
    /// Real directory ↔ stable token.
    pub(super) map: TextMap,
}

impl Context {
    /// `None` outside a build script (no `OUT_DIR` or package).
    pub(super) fn from_env(store: &Store) -> Result<Option<Context>> {
        let get = |n: &str| crate::env::var_os(n).map(PathBuf::from);
        let (Some(out_dir), Some(pkg)) = (get("OUT_DIR"), get("CARGO_MANIFEST_DIR")) else {
            return Ok(None);
        };
        if !out_dir.is_absolute() || !pkg.is_absolute() {
            return Ok(None);
        }
        let name = format!(
            "{}-{}",
            crate::env::var("CARGO_PKG_NAME").unwrap_or_default(),
            crate::env::var("CARGO_PKG_VERSION").unwrap_or_default()
        );
        let cwd = std::env::current_dir().context("the working directory")?;
        let mut dirs: Vec<(PathBuf, String)> = vec![
            (out_dir.clone(), format!("/gocache/out/{name}")),
            (pkg.clone(), format!("/gocache/pkg/{name}")),
            (store.root().to_path_buf(), "/gocache/store".into()),
        ];
        if let Some(t) = target_dir(&out_dir) {
            dirs.push((t, "/gocache/target".into()));
        }
        if let Some(w) = get("CARGO_GOCACHE_WORKSPACE") {
            dirs.push((w, "/gocache/workspace".into()));
        }
        if let Some(h) = get("CARGO_GOCACHE_CARGO_HOME") {
            dirs.push((h, "/gocache/cargo-home".into()));
        }
        if let Ok(exe) = std::env::current_exe() {
            dirs.push((exe, "/gocache/bin/cargo-gocache".into()));
        }
        let mut map = TextMap::default();
        for (real, token) in &dirs {
            map.add(real, token);
            if let Ok(canon) = fs::canonicalize(real) {
                map.add(&canon, token);
            }
        }
        let mut temp_dirs: Vec<PathBuf> = ["/tmp", "/var/tmp", "/dev/shm"]
            .iter()
            .map(PathBuf::from)
            .collect();
        if let Some(t) = get("TMPDIR").filter(|t| t.is_absolute()) {
            temp_dirs.push(crate::observe::normalize(&t));
        }
        let build_dirs = dirs
            .iter()
            .filter(|(_, token)| !token.starts_with("/gocache/bin"))
            .map(|(real, _)| crate::observe::normalize(real))
            .collect();
        Ok(Some(Context {
            build_dirs,
            out_dir: crate::observe::normalize(&out_dir),
            cwd,
            store_root: store.root().to_path_buf(),
            temp_dirs,
            map,
        }))
    }

    /// The real value of every mapped directory, for an entry whose
    /// output holds machine paths.
    pub(super) fn pins(&self) -> Vec<(String, String)> {
        self.map
            .pairs
            .iter()
            .map(|(real, token)| (token.clone(), real.clone()))
            .collect()
    }

    /// Under a temporary directory, and not under a directory of the
    /// build (a project checked out under `/tmp` is not temporary).
    fn is_temp(&self, p: &Path) -> bool {
        self.temp_dirs.iter().any(|t| p.starts_with(t))
            && !self.build_dirs.iter().any(|d| p.starts_with(d))
    }
}

/// The target directory holding `out_dir`: the nearest ancestor with
/// cargo's `CACHEDIR.TAG`.
fn target_dir(out_dir: &Path) -> Option<PathBuf> {
    out_dir
        .ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

/// The pre-key (module docs).
/// Also the build script's executable: its `stat` before the read, and its
/// hash (which the run's inputs name again: see `FileMemo::seed_this_run`).
pub(super) fn pre_key(
    cx: &Context,
    real: &Path,
    args: &[OsString],
) -> Result<(KeyHasher, Option<(fs::Metadata, String)>)> {
    let mut h = KeyHasher::new("build-script");
    h.line(SALT);
    h.line(format!("gocache {}", env!("CARGO_PKG_VERSION")));
    let meta = fs::metadata(real).ok();
    // Placed by this build's hit of the script's compile: its receipt
    // (`crate::store`) gives the hash without reading it again.
    let receipt = meta.as_ref().and_then(|m| {
        crate::store::read_receipt(&crate::store::receipts_dir(&cx.store_root), real, m)
    });
    let exe = match receipt {
        Some(h) => h,
        None => hex(&crate::key::hash::hash_file(real)
            .with_context(|| format!("reading {}", real.display()))?),
    };
    h.line(format!("exe {exe}"));
    h.line(format!("cwd {}", cx.map.map_path(&cx.cwd)));
    for a in args {
        h.line(format!("arg {}", cx.map.map(&a.to_string_lossy())));
    }
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    vars.sort();
    for (k, v) in vars {
        let k = k.to_string_lossy();
        match k.as_ref() {
            "CARGO_MAKEFLAGS"
            | "MAKEFLAGS"
            | "MFLAGS"
            | "_"
            | "CARGO_GOCACHE_DEBUG"
            | "CARGO_GOCACHE_VERIFY"
            | "CARGO_GOCACHE_OBSERVER_EXEC"
            | "CARGO_GOCACHE_MAX_SIZE"
            | "CARGO_GOCACHE_MAX_AGE"
            // The device and inode of this machine's gocache binary: only
            // spares hashing it (`FileMemo`), and would tie entries to one
            // install. Its content is an input where a run executes it.
            | "CARGO_GOCACHE_OWN_BINARY" => continue,
            k if k.starts_with("CARGO_GOCACHE_REMOTE") => continue,
            "PWD" if Path::new(&v) != cx.cwd => {
                h.line("env PWD=(not the working directory)");
                continue;
            }
            k if is_volatile(k) => {
                h.line(format!(
                    "env {k}=(volatile: keyed where the output holds it)"
                ));
                continue;
            }
            _ => {}
        }
        h.line(format!("env {k}={}", cx.map.map(&v.to_string_lossy())));
    }
    Ok((h, meta.map(|m| (m, exe))))
}

/// Does a variable name a session or a CI run rather than what is built?
/// Its value is left out of the pre-key (module docs).
pub(super) fn is_volatile(name: &str) -> bool {
    const EXACT: &[&str] = &[
        // The shell and the terminal cargo was started from.
        "SHLVL",
        "OLDPWD",
        "WINDOWID",
        "TERM_SESSION_ID",
        "ITERM_SESSION_ID",
        "TMUX",
        "TMUX_PANE",
        "STY",
        "WINDOW",
        "KITTY_WINDOW_ID",
        "KITTY_PID",
        "WEZTERM_PANE",
        "ALACRITTY_WINDOW_ID",
        "VSCODE_GIT_IPC_HANDLE",
        "VSCODE_IPC_HOOK_CLI",
        "GPG_TTY",
        // The login and the service manager.
        "SSH_CLIENT",
        "SSH_CONNECTION",
        "SSH_TTY",
        "SSH_AUTH_SOCK",
        "XDG_SESSION_ID",
        "XDG_VTNR",
        "INVOCATION_ID",
        "JOURNAL_STREAM",
        "SYSTEMD_EXEC_PID",
        "MANAGERPID",
        "DBUS_SESSION_BUS_ADDRESS",
        // Jenkins' per-build variables.
        "BUILD_ID",
        "BUILD_NUMBER",
        "BUILD_TAG",
        "BUILD_URL",
        "EXECUTOR_NUMBER",
        "GIT_COMMIT",
    ];
    const PREFIXES: &[&str] = &[
        "GITHUB_",
        "ACTIONS_",
        "RUNNER_",
        "CI_",
        "BUILDKITE_",
        "CIRCLE_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The text forms of a volatile variable's value that a run's output is
/// searched for (none under 4 characters: module docs).
pub(super) fn volatile_needles(value: &str) -> Vec<String> {
    if value.len() < 4 {
        return Vec::new();
    }
    let mut out = vec![value.to_string()];
    // A commit hash is printed short as often as whole.
    if value.len() >= 12 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.push(value[..7].to_string());
    }
    out
}

/// The state of a volatile variable a run's output held: input `e`.
fn env_state(name: &str) -> String {
    match std::env::var_os(name) {
        Some(v) => format!("value {}", hex(&hash_bytes(v.as_encoded_bytes()))),
        None => "unset".to_string(),
    }
}

/// The key of the stat memo of one pre-key's inputs.
pub(super) fn memo_key(pre: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("build-script-memo");
    h.line("gocache-build-script-memo v1");
    h.line(format!("pre {pre}"));
    h.id()
}

/// The key a run's manifest lives under (beside the pre-key itself).
fn manifest_key(pre: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("build-script-manifest");
    h.line("gocache-build-script-manifest-key v1");
    h.line(format!("pre {pre}"));
    h.id()
}

/// One observed input: (kind, mapped path) → state.
pub(super) type Inputs = BTreeMap<(char, String), String>;

/// One manifest entry: the inputs of a run and, if its output holds
/// machine paths, the real directories it was made with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct ManifestEntry {
    pub(super) inputs: Inputs,
    pub(super) pins: Vec<(String, String)>,
}

impl ManifestEntry {
    /// Does every input still hold here?
    /// Were this entry's pinned directories (if any) this build's?
    pub(super) fn pins_hold(&self, here: &[(String, String)]) -> bool {
        self.pins.iter().all(|p| here.contains(p))
    }

    pub(super) fn holds(&self, cx: &Context, memo: &mut FileMemo) -> bool {
        if !self.pins.is_empty() && !self.pins_hold(&cx.pins()) {
            return false;
        }
        self.inputs.iter().all(|((kind, mapped), state)| {
            let path = cx.map.unmap_path(mapped);
            // Most inputs are paths probed and missing: answered by the
            // memo while the nearest directory that exists is unchanged.
            if matches!(kind, 'r' | 'l') && state == "absent" && memo.is_absent(&path) {
                return true;
            }
            state_of(*kind, &path, &cx.map, memo) == *state
        })
    }

    /// The final key: the pre-key's ID and every input.
    pub(super) fn final_key(&self, pre: &ActionId) -> KeyHasher {
        let mut h = KeyHasher::new("build-script-final");
        h.line("gocache-build-script-final v1");
        h.line(format!("pre {pre}"));
        for (token, real) in &self.pins {
            h.line(format!("pin {token} {real}"));
        }
        for ((kind, path), state) in &self.inputs {
            h.line(format!("in {kind} {state} {path}"));
        }
        h
    }

    fn render(&self, out: &mut String) {
        out.push_str("entry\n");
        for (token, real) in &self.pins {
            out.push_str(&format!("pin {token}\t{real}\n"));
        }
        for ((kind, path), state) in &self.inputs {
            out.push_str(&format!("in {kind}\t{state}\t{path}\n"));
        }
    }
}

pub(super) fn load_manifest(store: &Store, pre: &ActionId) -> Vec<ManifestEntry> {
    let Some(text) = store
        .get_bytes(&manifest_key(pre))
        .and_then(|(_, b)| String::from_utf8(b).ok())
    else {
        return Vec::new();
    };
    parse_manifest(&text).unwrap_or_default()
}

fn parse_manifest(text: &str) -> Option<Vec<ManifestEntry>> {
    let mut lines = text.lines();
    if lines.next()? != MANIFEST_HEADER {
        return None;
    }
    let mut out: Vec<ManifestEntry> = Vec::new();
    for l in lines {
        if l == "entry" {
            out.push(ManifestEntry::default());
            continue;
        }
        let cur = out.last_mut()?;
        let (kind, rest) = l.split_once(' ')?;
        match kind {
            "pin" => {
                let (t, r) = rest.split_once('\t')?;
                cur.pins.push((t.into(), r.into()));
            }
            "in" => {
                let mut f = rest.splitn(3, '\t');
                let k = f.next()?.chars().next()?;
                let state = f.next()?;
                let path = f.next()?;
                cur.inputs.insert((k, path.into()), state.into());
            }
            _ => return None,
        }
    }
    Some(out)
}

pub(super) fn save_manifest(store: &Store, pre: &ActionId, entry: ManifestEntry) -> Result<()> {
    let mut all = load_manifest(store, pre);
    all.retain(|e| *e != entry);
    all.insert(0, entry);
    all.truncate(MAX_ENTRIES);
    let mut text = format!("{MANIFEST_HEADER}\n");
    for e in &all {
        e.render(&mut text);
    }
    store.put(&manifest_key(pre), text.as_bytes())?;
    Ok(())
}

/// Why a lookup of `pre` found nothing, for `explain`: the inputs that
/// changed since the nearest run in the manifest, or the pre-key lines that
/// changed since this package's last stored run (`history`), or that this
/// is the first.
pub(super) fn why_missed(
    cx: &Context,
    manifest: &[ManifestEntry],
    pre: &KeyHasher,
    history: Option<&str>,
    memo: &mut FileMemo,
) -> Vec<String> {
    let short = |s: &str| match s.split_once(' ') {
        Some((k, h)) if h.len() == 64 => format!("{k} {}", &h[..12]),
        _ => s.to_string(),
    };
    let here = cx.pins();
    let nearest = manifest
        .iter()
        .filter(|e| e.pins_hold(&here))
        .map(|e| {
            let changed: Vec<String> = e
                .inputs
                .iter()
                .filter_map(|((kind, mapped), old)| {
                    let new = state_of(*kind, &cx.map.unmap_path(mapped), &cx.map, memo);
                    (new != *old).then(|| format!("{mapped}: {} -> {}", short(old), short(&new)))
                })
                .collect();
            changed
        })
        .min_by_key(Vec::len);
    if let Some(changed) = nearest.filter(|c| !c.is_empty()) {
        return changed;
    }
    if !manifest.is_empty() {
        // Every stored run was pinned to other directories: its output
        // holds absolute paths of another checkout or target directory.
        if let Some(e) = manifest
            .first()
            .filter(|_| !manifest.iter().any(|e| e.pins_hold(&here)))
        {
            let elsewhere: Vec<&str> = e
                .pins
                .iter()
                .filter(|p| !here.contains(p))
                .map(|(_, real)| real.as_str())
                .collect();
            return vec![format!(
                "its stored run's OUT_DIR holds the absolute paths it ran with, \
                 served only there: {}",
                elsewhere.join(", ")
            )];
        }
        return vec!["its output was missing or damaged in the store".into()];
    }
    let Some(old) = history else {
        return vec!["first run of this build script (nothing earlier in the cache)".into()];
    };
    let old: std::collections::BTreeSet<&str> = old.lines().collect();
    let new: std::collections::BTreeSet<&str> = pre.lines().iter().map(String::as_str).collect();
    let mut out: Vec<String> = old
        .difference(&new)
        .map(|l| format!("was: {l}"))
        .chain(new.difference(&old).map(|l| format!("now: {l}")))
        .collect();
    if out.is_empty() {
        out.push("same inputs as an earlier run, whose entry is gone".into());
    }
    out
}

/// Where the pre-key lines of this package's last stored run are kept.
pub(super) fn history_key() -> ActionId {
    let mut h = KeyHasher::new("build-script-history");
    h.line("gocache-build-script-history v1");
    for v in ["CARGO_PKG_NAME", "CARGO_PKG_VERSION", "TARGET", "PROFILE"] {
        h.line(format!("{v} {}", crate::env::var(v).unwrap_or_default()));
    }
    h.id()
}

/// The state of a path that is gocache's own executable (the compiler
/// wrapper a run's `CC` names, the compilers that masquerade on `PATH`, the
/// launcher): its version, not its content. Its content is no input of the
/// run's outputs beyond what its version says: the wrapper is transparent,
/// and every other cache of gocache keys it by version and salts the same
/// way. And its content cannot be remembered by stamp: each build makes and
/// removes hard links to it (launchers, `gocache-ar`), which changes its
/// ctime, so every restore would read and hash ten megabytes. Another file
/// at that path (a real compiler put there) has a content state, and misses.
const OWN_EXE_STATE: &str = concat!("gocache ", env!("CARGO_PKG_VERSION"));

/// Is `meta` the file this process runs (the same device and inode)?
fn is_own_exe(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    static OWN: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    let own = OWN.get_or_init(|| {
        let m = fs::metadata("/proc/self/exe").ok()?;
        Some((m.dev(), m.ino()))
    });
    meta.is_file() && *own == Some((meta.dev(), meta.ino()))
}

/// The state of `path` as input `kind` (module docs).
pub(crate) fn state_of(kind: char, path: &Path, map: &TextMap, memo: &mut FileMemo) -> String {
    use std::io::ErrorKind;
    let of_meta = |m: std::io::Result<fs::Metadata>, memo: &mut FileMemo| match m {
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
            "absent".to_string()
        }
        Err(_) => "error".to_string(),
        Ok(m) if m.is_dir() => "dir".to_string(),
        Ok(m) if is_own_exe(&m) => OWN_EXE_STATE.to_string(),
        Ok(m) if m.is_file() => match memo.hash(path) {
            Some(h) => format!("file {h}"),
            None => "unreadable".to_string(),
        },
        Ok(m) if m.file_type().is_symlink() => "dangling".to_string(),
        Ok(_) => "special".to_string(),
    };
    match kind {
        'e' => env_state(&path.to_string_lossy()),
        'r' => of_meta(fs::metadata(path), memo),
        'l' => match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => match fs::read_link(path) {
                Ok(t) => format!("link {}", map.map_path(&t)),
                Err(_) => "error".to_string(),
            },
            other => of_meta(other, memo),
        },
        'd' => match fs::read_dir(path) {
            Ok(rd) => {
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| {
                        let t = match e.file_type() {
                            Ok(t) if t.is_dir() => 'd',
                            Ok(t) if t.is_symlink() => 'l',
                            Ok(t) if t.is_file() => 'f',
                            _ => 'o',
                        };
                        format!("{t} {}", e.file_name().to_string_lossy())
                    })
                    .collect();
                names.sort();
                format!("list {}", hex(&hash_bytes(names.join("\n").as_bytes())))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => "absent".to_string(),
            Err(_) => "error".to_string(),
        },
        'c' => match fs::read_to_string(path) {
            // The CPU's identity and features, without the lines that
            // change by the second (`cpu MHz`, `bogomips`).
            Ok(text) => {
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        let k = l.split(':').next().unwrap_or("").trim();
                        !matches!(k, "cpu MHz" | "bogomips" | "BogoMIPS")
                    })
                    .collect();
                format!("cpu {}", hex(&hash_bytes(kept.join("\n").as_bytes())))
            }
            Err(_) => "error".to_string(),
        },
        _ => "unknown".to_string(),
    }
}

/// The allowed device files: no input, whatever is read from them.
const QUIET_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
];

/// What an observed access to a device file means: `None`, not a device
/// (`/dev/shm` holds files); `Ok`, nothing to key (a quiet device, a
/// descriptor, a terminal only looked at); `Err`, the reason to refuse.
pub(crate) fn device_use(path: &Path, access: Access) -> Option<Result<(), &'static str>> {
    if !path.starts_with("/dev") || path.starts_with("/dev/shm") {
        return None;
    }
    if QUIET_DEVICES.iter().any(|d| path == Path::new(d))
        || path.starts_with("/dev/fd")
        || path == Path::new("/dev")
    {
        return Some(Ok(()));
    }
    let terminal = path.starts_with("/dev/tty") || path.starts_with("/dev/pts");
    if terminal && !access.opened && !access.write {
        // Looked at, not read (`ttyname` walks `/dev/pts`, tools ask
        // whether their output is a terminal).
        return Some(Ok(()));
    }
    Some(Err(if terminal { "terminal" } else { "device" }))
}

/// The kinds of input an observed access makes of a path (module docs):
/// `r` its content or state, `l` the name itself (symlinks not followed),
/// `d` its listing.
pub(crate) fn input_kinds(access: Access) -> impl Iterator<Item = char> {
    [
        (access.read || access.exec, 'r'),
        (access.nofollow, 'l'),
        (access.list, 'd'),
    ]
    .into_iter()
    .filter_map(|(yes, kind)| yes.then_some(kind))
}

/// The run's inputs, or the reason it cannot be cached.
pub(super) fn inputs(
    cx: &Context,
    obs: &Observation,
    memo: &mut FileMemo,
) -> Result<Inputs, String> {
    let mut inputs = Inputs::new();
    let out_parent = cx.out_dir.parent().map(Path::to_path_buf);
    for (path, access) in &obs.paths {
        if path.starts_with(&cx.out_dir) || Some(path) == out_parent.as_ref() {
            continue; // outputs; empty at the start
        }
        if path.starts_with(&cx.store_root) {
            continue; // the store: content-addressed, not an input
        }
        if path == Path::new("/proc/cpuinfo") {
            let mapped = path.display().to_string();
            inputs.insert(('c', mapped), state_of('c', path, &cx.map, memo));
            continue;
        }
        if path.starts_with("/proc") || path.starts_with("/sys") {
            continue;
        }
        match device_use(path, *access) {
            Some(Ok(())) => continue,
            Some(Err(why)) => return Err(why.into()),
            None => {}
        }
        if access.write {
            if cx.is_temp(path) {
                if fs::symlink_metadata(path).is_ok() {
                    return Err("temp-file-left".into());
                }
                continue;
            }
            return Err("writes-outside-out-dir".into());
        }
        if cx.is_temp(path) && access.list && cx.temp_dirs.iter().any(|t| t == path) {
            continue;
        }
        let mapped = cx.map.map_path(path);
        if mapped.contains(['\t', '\n']) {
            return Err("odd-file-name".into());
        }
        let mut add = |kind: char| -> Result<(), String> {
            let state = state_of(kind, path, &cx.map, memo);
            match state.as_str() {
                "special" => return Err("special-file".into()),
                "unreadable" | "error" => return Err("unreadable-input".into()),
                _ => {}
            }
            inputs.insert((kind, mapped.clone()), state);
            Ok(())
        };
        for kind in input_kinds(*access) {
            add(kind)?;
        }
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_executable_is_keyed_by_version_and_a_copy_by_content() {
        let own = std::env::current_exe().unwrap();
        let map = TextMap::default();
        let mut memo = FileMemo::empty();
        assert_eq!(state_of('r', &own, &map, &mut memo), OWN_EXE_STATE);
        // A hard link is the same file; a copy (or a real compiler put at
        // the wrapper's path) is not.
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("link");
        if fs::hard_link(&own, &link).is_ok() {
            assert_eq!(state_of('r', &link, &map, &mut memo), OWN_EXE_STATE);
        }
        let copy = d.path().join("copy");
        fs::copy(&own, &copy).unwrap();
        let state = state_of('r', &copy, &map, &mut memo);
        assert!(state.starts_with("file "), "{state}");
    }

    #[test]
    fn manifests_round_trip_and_reject_damage() {
        let mut e = ManifestEntry::default();
        e.inputs.insert(
            ('r', "/gocache/pkg/a-1/src/a c.c".into()),
            "file 00ff".into(),
        );
        e.inputs
            .insert(('d', "/usr/include".into()), "list 12".into());
        e.pins.push(("/gocache/out/a-1".into(), "/t/out".into()));
        let mut text = format!("{MANIFEST_HEADER}\n");
        e.render(&mut text);
        assert_eq!(parse_manifest(&text), Some(vec![e.clone()]));
        assert_eq!(parse_manifest("garbage"), None);
        assert_eq!(
            parse_manifest(&format!("{MANIFEST_HEADER}\nin r\tx\n")),
            None
        );
    }

    #[test]
    fn every_input_is_in_the_final_key() {
        let pre = ActionId([1; 32]);
        let mut a = ManifestEntry::default();
        a.inputs.insert(('r', "/x".into()), "file 01".into());
        let mut b = a.clone();
        b.inputs.insert(('r', "/x".into()), "absent".into());
        assert_ne!(a.final_key(&pre).id(), b.final_key(&pre).id());
        let mut c = a.clone();
        c.pins.push(("/gocache/out/a-1".into(), "/t".into()));
        assert_ne!(a.final_key(&pre).id(), c.final_key(&pre).id());
    }
}
