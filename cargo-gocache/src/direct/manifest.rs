//! Direct mode: finding a compile's result without running the preprocessor.
//!
//! # Two keys
//!
//! A compile's output depends on headers that only the compile itself
//! discovers. As in ccache's direct mode, a compile has two keys:
//!
//! * the **pre-key**, computed before compiling from what is known up front
//!   (compiler, arguments, environment, the source's content; built by the
//!   caller), names a [`Manifest`] in the store;
//! * the manifest lists, for each way the compile has been seen to resolve
//!   its headers, an [`Observed`] set: every file read (from the compiler's
//!   own `-MD` depfile) with its content hash, and a list of *probes*. The
//!   **final key**, which names the object, is the pre-key plus those lines.
//!
//! A lookup hashes the listed files and checks the probes; the first entry
//! that still matches gives the final key. Nothing is preprocessed on a hit.
//! A lookup that finds nothing says why ([`Manifest::lookup_with`],
//! [`crate::direct::lookup::MissReason`]).
//!
//! # The final key's lines
//!
//! | line | why |
//! | --- | --- |
//! | `gocache-final v3` | version salt |
//! | `pre <id>` | the pre-key: everything known before the compile |
//! | `header <sha256> <path>` | each file the depfile lists (the source first), mapped, with its content |
//! | `probe present\|absent <path>` | each place searched before a file read (below), and what was there |
//! | `macro NAME=VALUE` | each command-line `-D` whose macro the compile used, when the pre-key holds the `-D`s without values ([`crate::cmdline::macros`]) |
//!
//! The manifest keeps the same `header`, `probe` and `macro` lines under
//! `entry` lines ([`KeyLine`] renders and parses them). An entry holds
//! when its files hash as listed, its probes find what they found, and the
//! command line gives its macros the values listed ([`Observed::matches`]). Left out: the depfile's
//! order beyond the listing itself, stamps (see [`crate::direct::stamp`]) and the
//! object's name.
//!
//! # Probes: why a new header cannot hide
//!
//! Hashing the headers that were read catches edits and removals, but not a
//! header that *appears* earlier in the search path: `#include "util.h"`
//! resolved to `include/util.h` last time, and now `src/util.h` exists
//! beside the including file and would win. (ccache 4.7's direct mode
//! serves the stale object in that case.) So the entry records whether each
//! place the preprocessor looked before the one it took holds a file.
//!
//! Where it looked is told by the include directives of the files read,
//! from their text ([`crate::direct::scan::Scan::include_names`]): for
//! `#include "N"` in a file `F`, `F`'s own directory, then every search
//! directory; for `#include <N>`, the search directories but the
//! quote-only ones (`-iquote`). gcc stops at the first place that has `N`;
//! the probes stop at the first that is a file read (the entry hashes it),
//! and record every place before it, present or absent. Not a stop: a
//! directory gcc drops there (below), and any place for `#include_next`
//! (all are probed). A directive not taken (`#if 0`) costs probes, never a
//! missed one. A file of openssl includes about 150 headers; probed by
//! directive, one of its compiles keeps 1,200 to 2,100 probes where the
//! per-file way below kept 5,000 to 9,000, and every lookup checks each.
//!
//! The per-file way, for a file no directive led to (the implicit
//! `stdc-predef.h`, `-include` files, a name spelled other than gcc spells
//! the path), for the first headers (precompiled headers, below), and for
//! every file when some directive's name is not in its text (`#include
//! MACRO`): for a file `X/N` read, where `X` is one of the search
//! directories, whether `Y/N` exists for every directory `Y` that could
//! have been searched before `X`:
//!
//! * every directory holding the source or a header (a quoted include is
//!   first looked up beside the file that includes it, and this way does
//!   not know which file did);
//! * every search directory listed before `X` (`-iquote`, `-I`, `-isystem`,
//!   the compiler's system directories, `-idirafter`, in that order).
//!
//! Both ways are tested against gcc itself: headers made where none was,
//! in random include graphs, either break a probe or leave gcc's output as
//! it was (`wrapper::cc`'s `a_header_made_where_gcc_looks_breaks_a_probe`).
//!
//! Two ways the depfile's name hides `X`'s place, both handled:
//!
//! * gcc drops a `-I` of a directory that is also a system one (the same
//!   device and inode) and searches it in its system place, after every
//!   `-I`. The search path keeps every occurrence of a directory
//!   ([`crate::cmdline::Compile::search_path`]); a file is probed for
//!   each place its directory has, so the last one counts, and a
//!   directive's probes do not stop at a directory that comes again.
//! * gcc names a header found in a system directory by its resolved path
//!   when that is shorter (`-fcanonical-system-headers`, its default):
//!   `-isystem /w/long-link` lists `/w/real/x.h`. A file is matched against
//!   each search directory as given and as resolved.
//!
//! And a name gcc tries before a header: `x.h.gch` (a precompiled header,
//! used silently when valid). It is probed beside every header read, and
//! in every directory searched before for the first headers (gcc takes a
//! precompiled header only for the first file a compile includes); one
//! present makes the compile uncacheable, used or not: whether gcc takes
//! it depends on more than its bytes, and one rebuilt in place would stay
//! "present". (ccache caches precompiled headers only when told to, with
//! `sloppiness=pch_defines,time_macros`.)
//!
//! This is a superset of what the preprocessor searched, so it can cost a
//! miss when an unrelated file appears, never a wrong hit. A file in a
//! directory that is only a file's own directory (not a search directory)
//! was found by the first lookup of a quoted include, with nothing before it.
//!
//! `__has_include(<x.h>)` makes the output depend on a file that may not
//! exist, so it is not in the depfile: every such name found in a file read
//! is probed in every candidate directory. A `__has_include` whose argument
//! is a macro cannot be resolved here and makes the compile uncacheable.
//!
//! # Relocation clashes
//!
//! The compiler's prefix map (`-ffile-prefix-map`) compares strings: with
//! `CARGO_HOME=/w/ch` it writes `/w/ch2/a.c` as `<cargo-home>2/a.c`, while
//! the key maps by path component and keeps `/w/ch2/a.c`. Such a compile
//! is uncacheable (`relocation-clash`), and since the map is this
//! machine's, that is decided on every lookup too: an entry naming a path
//! (a file or a probe) that clashes with this map never holds
//! ([`Observed::matches`]), the working directory is checked before the
//! lookup (by the wrapper), and the lookup's snapshot is kept per map.
//! `#line` names, which the compiler writes into the object through the
//! same map, are refused when they clash and probed, so that a lookup
//! checks them as well.
//!
//! # What else makes a compile uncacheable here
//!
//! * A file read by the compile was modified at or after the compile's start
//!   (ccache's rule): the hash taken afterwards may not be what was compiled.
//!   The callers also compare full stamps taken before and after the
//!   compile ([`crate::direct::stamp`]), which see a replacement that kept its mtime.
//! * `__DATE__` or `__TIME__` in a file read, unless `SOURCE_DATE_EPOCH`
//!   fixes them; `__TIMESTAMP__` always (it is the source's mtime).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::direct::lookup::MissReason;
use crate::direct::scan::ns_since_epoch;
pub use crate::direct::scan::{FactState, FileFacts};
use crate::key::hash::{hash_bytes, hex, ActionId, KeyHasher};
use crate::key::line::KeyLine;
use crate::key::pathmap::PathMap;
use crate::store::{Entry, Store};

/// Manifests keep at most this many observed header sets (newest first).
const MAX_ENTRIES: usize = 32;

const HEADER: &str = "gocache-manifest v3";

/// The final key's salt (see [`Observed::key`]).
const FINAL_SALT: &str = "gocache-final v3";

/// Why the compile's headers make it uncacheable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCacheable {
    /// A file read was modified at or after the start of the compile.
    ModifiedDuringCompile(PathBuf),
    /// A file uses `__DATE__`/`__TIME__` (without `SOURCE_DATE_EPOCH`) or `__TIMESTAMP__`.
    TimeMacros(PathBuf),
    /// `__has_include` with an argument that is not a literal name.
    HasIncludeMacro(PathBuf),
    /// A file listed in the depfile could not be read.
    Unreadable(PathBuf),
    /// A path cannot be written in a manifest (it holds a newline).
    BadPath(PathBuf),
    /// A file read is not a regular file (a FIFO, a device): its content
    /// cannot be hashed without consuming it, or hanging.
    SpecialFile(PathBuf),
    /// A precompiled header (`.gch`, `.pch`) was used: its validity
    /// depends on more than its bytes.
    PrecompiledHeader(PathBuf),
    /// A file holds an input the depfile does not list: the assembler's
    /// `.incbin` or `.include`, or `#pragma GCC dependency` (which compares
    /// mtimes).
    HiddenInput(PathBuf),
    /// A path is under a relocated directory by string but not by path
    /// component (`/w/ch2` beside `/w/ch`): the compiler's prefix map,
    /// which compares strings, would rewrite it as if it were inside.
    RelocationClash(PathBuf),
}

impl NotCacheable {
    /// A short reason, for statistics (`time-macros`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            NotCacheable::ModifiedDuringCompile(_) => "modified-during-compile",
            NotCacheable::TimeMacros(_) => "time-macros",
            NotCacheable::HasIncludeMacro(_) => "has-include-macro",
            NotCacheable::Unreadable(_) => "unreadable-input",
            NotCacheable::BadPath(_) => "bad-path",
            NotCacheable::SpecialFile(_) => "special-input",
            NotCacheable::PrecompiledHeader(_) => "precompiled-header",
            NotCacheable::HiddenInput(_) => "hidden-input",
            NotCacheable::RelocationClash(_) => "relocation-clash",
        }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            NotCacheable::ModifiedDuringCompile(p)
            | NotCacheable::TimeMacros(p)
            | NotCacheable::HasIncludeMacro(p)
            | NotCacheable::Unreadable(p)
            | NotCacheable::BadPath(p)
            | NotCacheable::SpecialFile(p)
            | NotCacheable::PrecompiledHeader(p)
            | NotCacheable::HiddenInput(p)
            | NotCacheable::RelocationClash(p) => p,
        }
    }
}

/// One observed way a compile resolved its headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// Every file read (mapped path, hex SHA-256 of its content), in depfile order.
    pub files: Vec<(String, String)>,
    /// Every probe (mapped path, whether a file existed there).
    pub probes: Vec<(String, bool)>,
    /// The command-line `-D`s whose values the result depends on (name
    /// with parameters, value), in command-line order; see
    /// [`crate::cmdline::macros`]. Empty when the pre-key holds the values.
    pub macros: Vec<(String, Option<String>)>,
}

/// A command line's `-D`s as [`Observed::macros`] lists them: name (with
/// parameters), value.
pub type MacroValues = [(String, Option<String>)];

/// A `-D`'s name without its parameter list.
pub(crate) fn macro_ident(name: &str) -> &str {
    name.split('(').next().unwrap_or(name)
}

/// The search directories of a compile, in the order the compiler tries
/// them for `#include "..."` after the includer's own directory: first
/// those only quoted includes (and `-include` files) search (the working
/// directory when there are `-include` files, then `-iquote`), then those
/// `#include <...>` searches too. Absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPath {
    /// The directories, in search order.
    pub dirs: Vec<PathBuf>,
    /// How many of the first [`SearchPath::dirs`] only quoted includes
    /// search.
    pub quote_only: usize,
}

/// What a compile is allowed to contain; see [`observe`].
#[derive(Debug, Clone, Copy)]
pub struct ObserveOptions<'a> {
    /// When the compile started: files modified at or after it make the
    /// compile uncacheable, except the `held` ones.
    pub started: SystemTime,
    /// Files whose content was hashed *before* the compile (after a full
    /// [`crate::direct::stamp::Before`] stamp of each, which the caller checks
    /// after this), with that hash: the sources, as the pre-key has them.
    /// Such a file may carry a time from the compile's own clock tick
    /// (`configure` writes `conftest.c` and runs the compiler on it within
    /// a millisecond): if the bytes read now are the bytes hashed before
    /// the compiler ran, and its stamp did not change, the compiler read
    /// those bytes. What this cannot see is a change and a change back, to
    /// the same size, within one tick of the file system's clock while
    /// the compiler ran (a whole second on file systems without
    /// sub-second times); no build tool does that to its own sources.
    pub held: &'a [(PathBuf, String)],
    /// `SOURCE_DATE_EPOCH` is set, so `__DATE__` and `__TIME__` are fixed.
    pub source_date_epoch: bool,
    /// The assembler's `.include`/`.incbin` files are already in the key
    /// (plain assembly, see the wrapper's `asm` module): they are not a
    /// hidden input.
    pub assembler_inputs_known: bool,
    /// Command-line macro names whose values may be left out of the key:
    /// [`observe_macros`] says which of them a file read names (a
    /// `#define` there would compare against the command line's value).
    pub macro_candidates: &'a [String],
}

/// Record the files a compile read (`files`: absolute paths, the source
/// first, as listed by its depfile) with their hashes and probes.
pub fn observe(
    files: &[PathBuf],
    search: &SearchPath,
    map: &PathMap,
    opts: ObserveOptions<'_>,
) -> Result<Observed, NotCacheable> {
    observe_macros(files, search, map, opts).map(|(obs, _)| obs)
}

/// [`observe`], also saying which of [`ObserveOptions::macro_candidates`]
/// appear as an identifier in a file read (anywhere: in a directive, in a
/// comment, in text; after line splicing). A macro's name in a `#define`
/// or `#undef` cannot come from an expansion, so a name that appears in
/// no file is redefined by none.
pub fn observe_macros(
    files: &[PathBuf],
    search: &SearchPath,
    map: &PathMap,
    opts: ObserveOptions<'_>,
) -> Result<(Observed, Vec<String>), NotCacheable> {
    observe_includes(files, search, map, opts).map(|(obs, named, _)| (obs, named))
}

/// What a file read says about the files it may have included, from its
/// text ([`crate::direct::scan::Scan`]): for telling which headers gcc's
/// `-MMD` leaves out without asking gcc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Includes {
    /// The names its include directives give, as written (a superset).
    pub names: Vec<String>,
    /// How each name is included ([`crate::direct::scan::Scan::include_kinds`]).
    pub kinds: Vec<u8>,
    /// An include directive whose file the text does not name.
    pub unknown: bool,
    /// It may turn itself into a system header part-way.
    pub system_header: bool,
}

/// [`observe_macros`], also with each file's [`Includes`], in `files`' order.
pub fn observe_includes(
    files: &[PathBuf],
    search: &SearchPath,
    map: &PathMap,
    opts: ObserveOptions<'_>,
) -> Result<(Observed, Vec<String>, Vec<Includes>), NotCacheable> {
    let mut includes = Vec::with_capacity(files.len());
    let mut obs = Observed::default();
    let mut named: Vec<String> = Vec::new();
    let mut has_include_names: Vec<String> = Vec::new();
    let mut line_names: Vec<String> = Vec::new();
    let started = ns_since_epoch(opts.started);
    let facts = facts_many(files, opts.macro_candidates);
    crate::env::phase("facts");
    for (f, facts) in files.iter().zip(facts) {
        if f.to_string_lossy().contains('\n') {
            return Err(NotCacheable::BadPath(f.clone()));
        }
        match facts.state {
            FactState::Unreadable => return Err(NotCacheable::Unreadable(f.clone())),
            FactState::NotFile => return Err(NotCacheable::SpecialFile(f.clone())),
            FactState::File => {}
        }
        if f.extension().is_some_and(|e| e == "gch" || e == "pch")
            || f.components()
                .any(|c| c.as_os_str().to_string_lossy().ends_with(".gch"))
        {
            return Err(NotCacheable::PrecompiledHeader(f.clone()));
        }
        if map.string_clash(f) {
            return Err(NotCacheable::RelocationClash(f.clone()));
        }
        let hash = facts.hash;
        if facts.mtime_ns >= started && !opts.held.iter().any(|(p, h)| p == f && *h == hash) {
            return Err(NotCacheable::ModifiedDuringCompile(f.clone()));
        }
        let scan = facts.scan;
        if scan.timestamp || (scan.date_time && !opts.source_date_epoch) {
            return Err(NotCacheable::TimeMacros(f.clone()));
        }
        if scan.has_include_macro {
            return Err(NotCacheable::HasIncludeMacro(f.clone()));
        }
        if scan.hidden_input && !opts.assembler_inputs_known {
            return Err(NotCacheable::HiddenInput(f.clone()));
        }
        includes.push(Includes {
            names: scan.include_names,
            kinds: scan.include_kinds,
            unknown: scan.include_unknown,
            system_header: scan.system_header,
        });
        has_include_names.extend(scan.has_include_names);
        line_names.extend(scan.line_names);
        for name in facts.named {
            if !named.contains(&name) {
                named.push(name);
            }
        }
        obs.files.push((map.map(f), hash));
    }

    // Directories a quoted include may be resolved against first.
    let mut file_dirs: Vec<&Path> = Vec::new();
    for f in files {
        if let Some(d) = f.parent() {
            if !file_dirs.contains(&d) {
                file_dirs.push(d);
            }
        }
    }
    let mut probed: std::collections::HashSet<PathBuf> = files.iter().cloned().collect();
    // gcc tries `x.h.gch` before a header `x.h`, in every directory it
    // looks in (clang for `-include` files): a valid one is used silently.
    // Whether it is valid depends on more than its bytes (the options and
    // macros it was built with), and one rebuilt in place stays
    // "present": a `.gch` where gcc would look makes the compile
    // uncacheable, and its absence is probed. Beside every header read;
    // in every directory searched before, for the first headers only:
    // gcc takes a precompiled header only for the first file the
    // compile includes (libcpp's `pch_open_file`: no file but the main
    // one and the implicit `stdc-predef.h` opened yet), which the depfile
    // lists right after those. Three leave room for doubt; all would
    // double a lookup's probes.
    //
    // The probes are collected (`true`: a `.gch`) and answered at once
    // below: inside an observed build script the observing process
    // answers them, without a ptrace stop each (crate::observe::delegate).
    let mut wanted: Vec<(PathBuf, bool)> = Vec::new();
    let mut probe = |p: PathBuf, header: bool, _: &mut Observed| {
        if header {
            let mut gch = p.clone().into_os_string();
            gch.push(".gch");
            let gch = PathBuf::from(gch);
            if probed.insert(gch.clone()) {
                wanted.push((gch, true));
            }
        }
        if probed.insert(p.clone()) {
            wanted.push((p, false));
        }
    };
    // gcc names a header found in a system directory by its canonical
    // path when that is shorter (`-fcanonical-system-headers`, on by
    // default): `-isystem /w/long-link` gives `/w/real/x.h`. So a file is
    // matched against each directory as given and as resolved.
    let canonical: Vec<Option<PathBuf>> = search
        .dirs
        .iter()
        .map(|d| crate::fsutil::canonicalize_memo(d).ok().filter(|c| c != d))
        .collect();
    const PCH_CANDIDATES: usize = 3;

    // The probes of each include directive of each file read: where gcc
    // looked for its name before the place it found it. A quoted name is
    // looked for in the includer's own directory, then in every search
    // directory; an angle one in those after the quote-only ones. gcc
    // stops at the first that has it: at a candidate that is a file read
    // (which the entry hashes), so do the probes; anything before it is
    // probed, found or not. The names are every directive's in the text,
    // taken or not: a directive not taken costs probes, never a missed one.
    // Not a place to stop at: a search directory that comes again later,
    // the same directory however spelled (gcc drops the first place of a
    // `-I` that is also a system directory, and searches it in its system
    // place), and any place for an `#include_next` (searched from after
    // the includer's own directory; all of them are probed). With a
    // computed include somewhere (`#include MACRO`), no directive tells
    // every name: every file is probed the per-file way below.
    let same_dir: Vec<&Path> = search
        .dirs
        .iter()
        .zip(&canonical)
        .map(|(d, c)| c.as_deref().unwrap_or(d))
        .collect();
    let again_later: Vec<bool> = (0..same_dir.len())
        .map(|i| same_dir[i + 1..].contains(&same_dir[i]))
        .collect();
    let mut listed: HashMap<&Path, usize> = HashMap::new();
    for (k, f) in files.iter().enumerate() {
        listed.entry(f.as_path()).or_insert(k);
    }
    let mut reached = vec![false; files.len()];
    let directive_led = !includes.iter().any(|i| i.unknown);
    if directive_led {
        for (f, inc) in files.iter().zip(&includes) {
            let here = f.parent();
            for (name, &kind) in inc.names.iter().zip(&inc.kinds) {
                let next = kind & crate::direct::scan::NEXT != 0;
                let mut chains: Vec<(bool, usize)> = Vec::new();
                if next {
                    chains.push((true, 0));
                } else {
                    if kind & crate::direct::scan::QUOTED != 0 {
                        chains.push((true, 0));
                    }
                    if kind & crate::direct::scan::ANGLE != 0 {
                        chains.push((false, search.quote_only.min(search.dirs.len())));
                    }
                }
                for (quoted, from) in chains {
                    let places = here
                        .filter(|_| quoted)
                        .map(|h| (h, true))
                        .into_iter()
                        .chain(
                            search.dirs[from..]
                                .iter()
                                .zip(&again_later[from..])
                                .map(|(d, again)| (d.as_path(), !again)),
                        );
                    for (dir, may_stop) in places {
                        let p = dir.join(name);
                        match listed.get(p.as_path()) {
                            Some(&k) => {
                                reached[k] = true;
                                if may_stop && !next {
                                    break;
                                }
                            }
                            None => probe(p, false, &mut obs),
                        }
                    }
                }
            }
        }
    }
    // The per-file way: a file no directive's probes reached (the implicit
    // `stdc-predef.h`, `-include` files, a name spelled other than gcc
    // spells the path), or every file where a directive cannot be read,
    // is probed under its name in every directory searched before the one
    // it is in, and in the directory of every file read (a superset of
    // the includers' directories).
    for (k, f) in files.iter().enumerate() {
        let first_headers = k > 0 && k <= PCH_CANDIDATES;
        if directive_led && reached[k] && !first_headers {
            if k > 0 {
                probe(f.clone(), true, &mut obs);
            }
            continue;
        }
        // Every position the file's directory has in the search (gcc
        // drops a `-I` of a system directory and searches it there, so it
        // may be listed twice): the last one gives the most probes.
        for (i, x) in search.dirs.iter().enumerate() {
            let name = match f.strip_prefix(x) {
                Ok(name) => name,
                Err(_) => match canonical[i].as_ref().map(|c| f.strip_prefix(c)) {
                    Some(Ok(name)) => name,
                    _ => continue,
                },
            };
            for y in file_dirs
                .iter()
                .copied()
                .chain(search.dirs[..i].iter().map(|p| p.as_path()))
            {
                if y != x {
                    probe(y.join(name), first_headers, &mut obs);
                }
            }
        }
        if k > 0 {
            probe(f.clone(), true, &mut obs);
        }
    }
    has_include_names.sort();
    has_include_names.dedup();
    for name in &has_include_names {
        for y in file_dirs
            .iter()
            .copied()
            .chain(search.dirs.iter().map(|p| p.as_path()))
        {
            probe(y.join(name), false, &mut obs);
        }
    }
    // A `#line` name is written into the object through the compiler's
    // prefix map, which compares strings: one beside a mapped directory
    // would be rewritten as if inside it. Probed, so that a lookup checks
    // it against that machine's map too (see `Observed::matches`).
    for name in &line_names {
        let p = PathBuf::from(name);
        if map.string_clash(&p) {
            return Err(NotCacheable::RelocationClash(p));
        }
        probe(p, false, &mut obs);
    }
    let paths: Vec<PathBuf> = wanted.iter().map(|(p, _)| p.clone()).collect();
    let answers = probe_many(&paths);
    crate::env::phase("probes");
    let mut gch_found: Option<PathBuf> = None;
    for ((p, gch), exists) in wanted.iter().zip(answers) {
        if *gch && exists && gch_found.is_none() {
            gch_found = Some(p.clone());
        }
        obs.probes.push((map.map(p), exists));
    }
    if let Some(gch) = gch_found {
        return Err(NotCacheable::PrecompiledHeader(gch));
    }
    Ok((obs, named, includes))
}

/// [`FileFacts::of`] each file: by the observing process when this one
/// runs inside an observed build script (which records the files as read
/// by this one, and remembers what it read of settled ones for the rest of
/// the run: every configure probe includes `stdio.h`), else here, through
/// the store's memo of settled headers ([`crate::direct::factmemo`]).
pub fn facts_many(files: &[PathBuf], candidates: &[String]) -> Vec<FileFacts> {
    if let Some(facts) = crate::observe::facts_beside(files, candidates) {
        return facts;
    }
    #[cfg(unix)]
    return crate::direct::factmemo::facts_many(files, candidates);
    #[cfg(not(unix))]
    files.iter().map(|f| FileFacts::of(f, candidates)).collect()
}

/// [`probe_present`] of each path: by the observing process when this one
/// runs inside an observed build script (which records the paths as read
/// by this process), else here.
pub fn probe_many(paths: &[PathBuf]) -> Vec<bool> {
    // Where a directory is missing, one `stat` answers every name under
    // it (crate::observe::stat_many says why that holds).
    let kinds =
        crate::observe::stat_beside(paths).unwrap_or_else(|| crate::observe::stat_many(paths).0);
    paths
        .iter()
        .zip(kinds)
        .map(|(p, k)| match k {
            crate::observe::StatKind::Missing => false,
            crate::observe::StatKind::Dir => p.extension().is_some_and(|e| e == "gch"),
            crate::observe::StatKind::Other | crate::observe::StatKind::Error => true,
        })
        .collect()
}

impl Observed {
    /// The final key: a salt, the pre-key, then every header and probe
    /// line (the same [`KeyLine`]s the manifest keeps).
    pub fn key(&self, pre: &ActionId) -> KeyHasher {
        let mut h = KeyHasher::new("final");
        h.push(&KeyLine::Salt(FINAL_SALT.into()));
        h.push(&KeyLine::Pre(pre.to_hex()));
        for line in self.lines() {
            h.push(&line);
        }
        h
    }

    /// The header, probe and macro lines of this set, in order.
    pub fn lines(&self) -> impl Iterator<Item = KeyLine> + '_ {
        let headers = self.files.iter().map(|(path, hash)| KeyLine::Header {
            hash: hash.clone(),
            path: path.clone(),
        });
        let probes = self.probes.iter().map(|(path, present)| KeyLine::Probe {
            path: path.clone(),
            present: *present,
        });
        let macros = self.macros.iter().map(|(name, value)| KeyLine::Macro {
            name: name.clone(),
            value: value.clone(),
        });
        headers.chain(probes).chain(macros)
    }

    /// Do the `-D`s of a command line (`now`, every one in order) give
    /// this set's macros the values it lists? The pre-key fixed the names
    /// and their order, so the set's names pick the same `-D`s.
    pub fn macros_hold(&self, now: &MacroValues) -> bool {
        if self.macros.is_empty() {
            return true;
        }
        let names: Vec<&str> = self.macros.iter().map(|(n, _)| macro_ident(n)).collect();
        now.iter()
            .filter(|(n, _)| names.contains(&macro_ident(n)))
            .eq(self.macros.iter())
    }

    /// The macros (names as the command line gives them, without their
    /// parameters) to which `now` gives other values than this set
    /// lists; empty when its macros hold. `None` if `now` does not give
    /// the set's names one to one in its order (then it cannot be told
    /// apart by values alone).
    pub fn macros_differing(&self, now: &MacroValues) -> Option<Vec<String>> {
        let names: Vec<&str> = self.macros.iter().map(|(n, _)| macro_ident(n)).collect();
        let given: Vec<&(String, Option<String>)> = now
            .iter()
            .filter(|(n, _)| names.contains(&macro_ident(n)))
            .collect();
        if given.len() != self.macros.len() {
            return None;
        }
        let mut differing = Vec::new();
        for ((name, value), (now_name, now_value)) in self.macros.iter().zip(given) {
            if name != now_name {
                return None;
            }
            if value != now_value {
                differing.push(macro_ident(name).to_string());
            }
        }
        Some(differing)
    }

    /// Does this observation still hold on disk? `hashes` memoises file
    /// hashes across the entries of one lookup.
    pub fn matches(
        &self,
        map: &PathMap,
        disk: &mut dyn Disk,
        hashes: &mut HashMap<String, Option<String>>,
        macros: &MacroValues,
    ) -> bool {
        if !self.macros_hold(macros) {
            return false;
        }
        // A path the compiler's prefix map would rewrite by string under
        // this machine's map, but not by component (`/w/ch2/x.h` beside
        // `CARGO_HOME=/w/ch`): the object this compile makes here names
        // it otherwise than the one recorded where it did not clash (a
        // miss then records the compile as uncacheable).
        if self
            .files
            .iter()
            .map(|(p, _)| p)
            .chain(self.probes.iter().map(|(p, _)| p))
            .any(|p| map.string_clash(&map.unmap(p)))
        {
            return false;
        }
        for (path, want) in &self.files {
            let got = hashes
                .entry(path.clone())
                .or_insert_with(|| disk.hash(&map.unmap(path)));
            if got.as_deref() != Some(want.as_str()) {
                return false;
            }
        }
        self.probes
            .iter()
            .all(|(path, exists)| disk.is_file(&map.unmap(path)) == *exists)
    }
}

/// How a lookup looks at the disk. [`RealDisk`] reads and hashes every
/// file; a memo (the wrapper's `FileMemo`, in the binary) answers from file stamps
/// for files that have not changed, and must give the same answers.
pub trait Disk {
    /// The hex SHA-256 of the file's content; `None` if it cannot be read.
    fn hash(&mut self, path: &Path) -> Option<String>;
    /// Is there a file (not a directory) at `path`, following symlinks?
    /// (As [`probe_present`] says: a `.gch` directory counts.)
    fn is_file(&mut self, path: &Path) -> bool;
}

/// What a probe records: does the preprocessor stop at `path`? It does
/// for a file, and also when opening the name fails other than by its
/// absence (a symlink loop, no permission): gcc then reports the error
/// instead of searching on. A directory or a missing name (a dangling
/// symlink too) lets it search on. A precompiled header name (`x.h.gch`)
/// counts as a directory too: gcc searches that directory for one.
pub fn probe_present(path: &Path) -> bool {
    match fs::metadata(path) {
        Ok(m) => !m.is_dir() || path.extension().is_some_and(|e| e == "gch"),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
    }
}

/// The disk as it is: every file read and hashed, every probe a `stat`.
pub struct RealDisk;

impl Disk for RealDisk {
    fn hash(&mut self, path: &Path) -> Option<String> {
        read_regular(path).map(|b| hex(&hash_bytes(&b)))
    }

    fn is_file(&mut self, path: &Path) -> bool {
        probe_present(path)
    }
}

/// The bytes of `path` if it is a regular file (after symlinks): reading
/// a FIFO would block, or take bytes meant for the compiler.
pub fn read_regular(path: &Path) -> Option<Vec<u8>> {
    if !fs::metadata(path).ok()?.is_file() {
        return None;
    }
    fs::read(path).ok()
}

/// The observed header sets of one pre-key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Newest first.
    pub entries: Vec<Observed>,
}

/// The store action under which the manifest of `pre` is kept.
pub fn manifest_key(pre: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("manifest");
    h.line(format!("manifest {pre}"));
    h.id()
}

impl Manifest {
    /// Load the manifest of `pre`; empty if missing or damaged.
    pub fn load(store: &Store, pre: &ActionId) -> Manifest {
        Manifest::load_checked(store, pre).unwrap_or_default()
    }

    /// Load the manifest of `pre`, or say why there is none to use:
    /// [`MissReason::NoEntry`] (none stored) or [`MissReason::EntryDamaged`].
    pub fn load_checked(store: &Store, pre: &ActionId) -> Result<Manifest, MissReason> {
        let entry = store.get(&manifest_key(pre)).ok_or(MissReason::NoEntry)?;
        store
            .read_output(&entry)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| Manifest::parse(&t))
            .ok_or(MissReason::EntryDamaged)
    }

    /// The first entry that still matches the files on disk, with its final
    /// key and, if the store has it, the final entry.
    pub fn find(
        &self,
        store: &Store,
        pre: &ActionId,
        map: &PathMap,
        macros: &MacroValues,
    ) -> Option<(ActionId, Entry, &Observed)> {
        self.find_with(store, pre, map, &mut RealDisk, macros)
    }

    /// [`Manifest::find`], looking at the disk through `disk`.
    pub fn find_with(
        &self,
        store: &Store,
        pre: &ActionId,
        map: &PathMap,
        disk: &mut dyn Disk,
        macros: &MacroValues,
    ) -> Option<(ActionId, Entry, &Observed)> {
        self.lookup_with(store, pre, map, disk, macros).ok()
    }

    /// [`Manifest::find_with`], saying why nothing was found: no entries
    /// ([`MissReason::NoEntry`]), entries of which none holds on disk
    /// ([`MissReason::NoHeaderSetMatched`]), or one that holds without its
    /// result in the store ([`MissReason::OutputMissing`]).
    pub fn lookup_with(
        &self,
        store: &Store,
        pre: &ActionId,
        map: &PathMap,
        disk: &mut dyn Disk,
        macros: &MacroValues,
    ) -> Result<(ActionId, Entry, &Observed), MissReason> {
        let mut hashes = HashMap::new();
        let mut why = if self.entries.is_empty() {
            MissReason::NoEntry
        } else {
            MissReason::NoHeaderSetMatched
        };
        for obs in &self.entries {
            if obs.matches(map, disk, &mut hashes, macros) {
                let key = obs.key(pre).id();
                if let Some(e) = store.get(&key) {
                    return Ok((key, e, obs));
                }
                why = MissReason::OutputMissing;
            }
        }
        Err(why)
    }

    /// The entries that hold on disk, their results in the store, but
    /// list other values for some `-D`s than `now` gives (those macros'
    /// names with each): a miss that did not learn which macros its
    /// compile used keeps every value (see `crate::cmdline::macros`).
    /// Whether the values matter is for the caller to find out.
    pub fn lookup_values_aside(
        &self,
        store: &Store,
        pre: &ActionId,
        map: &PathMap,
        disk: &mut dyn Disk,
        now: &MacroValues,
    ) -> Vec<(ActionId, Entry, &Observed, Vec<String>)> {
        let mut hashes = HashMap::new();
        let mut found = Vec::new();
        for obs in &self.entries {
            let Some(differing) = obs.macros_differing(now).filter(|d| !d.is_empty()) else {
                continue;
            };
            // With its own values, its macros hold: the files and probes
            // decide.
            if obs.matches(map, disk, &mut hashes, &obs.macros) {
                let key = obs.key(pre).id();
                if let Some(e) = store.get(&key) {
                    found.push((key, e, obs, differing));
                }
            }
        }
        found
    }

    /// Every file the header sets list, on this machine: the inputs known
    /// before a compile, for [`crate::direct::stamp::Before`].
    pub fn known_files(&self, map: &PathMap) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for obs in &self.entries {
            for (path, _) in &obs.files {
                if seen.insert(path.as_str()) {
                    out.push(map.unmap(path));
                }
            }
        }
        out
    }

    /// Add `obs` (newest first), and save. Concurrent saves may lose an
    /// entry, which costs a later miss, never a wrong hit.
    pub fn add_and_save(store: &Store, pre: &ActionId, obs: Observed) -> crate::error::Result<()> {
        let mut m = Manifest::load(store, pre);
        m.entries.retain(|e| *e != obs);
        m.entries.insert(0, obs);
        m.entries.truncate(MAX_ENTRIES);
        store
            .put(&manifest_key(pre), m.render().as_bytes())
            .map(|_| ())
    }

    fn render(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for e in &self.entries {
            s.push_str("entry\n");
            for line in e.lines() {
                s.push_str(&line.render());
                s.push('\n');
            }
        }
        s
    }

    fn parse(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut m = Manifest::default();
        for line in lines {
            if line == "entry" {
                m.entries.push(Observed::default());
                continue;
            }
            let cur = m.entries.last_mut()?;
            match KeyLine::parse(line)? {
                KeyLine::Header { hash, path } => cur.files.push((path, hash)),
                KeyLine::Probe { path, present } => cur.probes.push((path, present)),
                KeyLine::Macro { name, value } => cur.macros.push((name, value)),
                _ => return None,
            }
        }
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct::scan::{identifiers_named, scan, splice};

    /// What the observing process sends back is what the wrapper would
    /// have read itself, for files with every kind of finding.
    #[test]
    fn file_facts_survive_the_wire() {
        let d = tempfile::tempdir().unwrap();
        let texts = [
            "int x = FOO;\n",
            "#line 3 \"/abs/name.c\"\nconst char *t = __TI\\\nME__;\n",
            "#if __has_include(<zlib.h>)\n#endif\n__asm__(\".incbin \\\"x\\\"\");\n",
            "__TIMESTAMP__ BAR FOO\n",
            "",
        ];
        let mut files: Vec<PathBuf> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = d.path().join(format!("f{i}.h"));
                fs::write(&p, t).unwrap();
                p
            })
            .collect();
        files.push(d.path().join("missing.h"));
        files.push(d.path().to_path_buf());
        let candidates = vec!["FOO".to_string(), "BAR".to_string(), "BAZ".to_string()];
        for f in &files {
            let facts = FileFacts::of(f, &candidates);
            let mut wire = Vec::new();
            facts.encode(&mut wire);
            let mut it = wire.into_iter();
            assert_eq!(
                FileFacts::decode(&mut it),
                Some(facts.clone()),
                "{}",
                f.display()
            );
            assert!(it.next().is_none());
        }
        let of = |i: usize| FileFacts::of(&files[i], &candidates);
        assert_eq!(of(0).named, ["FOO"]);
        assert!(of(1).scan.date_time && of(1).scan.line_names == ["/abs/name.c"]);
        assert!(of(2).scan.hidden_input && of(2).scan.has_include_names == ["zlib.h"]);
        assert!(of(3).scan.timestamp && of(3).named == ["BAR", "FOO"]);
        assert_eq!(of(5).state, FactState::Unreadable);
        assert_eq!(of(6).state, FactState::NotFile);
        // A damaged reply is refused, not misread.
        let mut wire = Vec::new();
        of(0).encode(&mut wire);
        wire.truncate(wire.len() - 1);
        assert_eq!(FileFacts::decode(&mut wire.into_iter()), None);
    }
    use std::time::Duration;

    fn opts() -> ObserveOptions<'static> {
        ObserveOptions {
            started: SystemTime::now() + Duration::from_secs(60),
            held: &[],
            source_date_epoch: false,
            assembler_inputs_known: false,
            macro_candidates: &[],
        }
    }

    #[test]
    fn scan_finds_macros_and_has_include() {
        let s = scan(b"x __DATE__ y #if __has_include(<a/b.h>) || __has_include_next ( \"c.h\" )\n#ifdef __has_include\n");
        assert!(s.date_time && !s.timestamp && !s.has_include_macro);
        assert_eq!(s.has_include_names, ["a/b.h", "c.h"]);
        assert!(scan(b"#if __has_include(FOO_H)").has_include_macro);
        assert!(scan(b"__TIMESTAMP__").timestamp);
    }

    #[test]
    fn line_directives_name_their_files() {
        let s = scan(b"#line 10 \"/w/ch2/gen.y\"\n  # 3 \"/w/x.c\" 2\n#line 4 \"rel.y\"\n#define L 1\n# 5 \"/w/x.c\"\n");
        assert_eq!(s.line_names, ["/w/ch2/gen.y", "/w/x.c"]);
        assert!(scan(b"int line = 3; // # 3 \"/x\"\n").line_names.is_empty());
    }

    #[test]
    fn scan_sees_through_line_splices() {
        assert!(scan(b"const char *t = __TI\\\nME__;").date_time);
        // The assembler's `.include`, however written, is a hidden input;
        // a C member named `includes` is not.
        for hidden in [
            &b"asm(\".include \\\"x.s\\\"\");"[..],
            b"  .INCLUDE \"m.inc\"\n",
            b".include\"m.inc\"",
            b"asm(\".inc\" \"lude \\\"x.s\\\"\");",
            b".incbin \"blob\"",
        ] {
            assert!(
                scan(hidden).hidden_input,
                "{}",
                String::from_utf8_lossy(hidden)
            );
        }
        assert!(!scan(b"git_array_foreach(cfg->file.includes, i, include)").hidden_input);
        assert!(!scan(b"x.include_depth = 1;").hidden_input);
        assert!(scan(b"const char *t = __TI\\  \r\nME__;").date_time);
        assert!(scan(b"const char *t = __TI??/\nME__;").date_time);
        assert!(scan(b"__DA\\\nT\\\nE__").date_time);
        assert!(scan(b"#if __has_incl\\\nude(FOO)").has_include_macro);
        assert!(!scan(b"a \\ b __TI ME__").date_time);
    }

    #[test]
    fn scan_finds_inputs_the_depfile_does_not_list() {
        for text in [
            &b"asm(\".incbin \\\"blob.bin\\\"\");"[..],
            b"asm(\".INCBIN \\\"b\\\"\");",
            b"asm(\".inc\" \"bin \\\"b\\\"\");",
            b"  .include \"macros.s\"\n",
            b"#pragma GCC dependency \"parse.y\"\n",
            b"_Pragma(\"GCC  dependency \\\"parse.y\\\"\")",
            b"#pragma GCC depen\\\ndency \"parse.y\"\n",
            // A `.include` literal that could carry an operand is an input.
            b"asm(\".include\" FILE);",
            b"asm(\".include\" \" \\\"f.s\\\"\");",
            b"asm(\"x\" \".include\");",
            b".include\"f.s\"",
            b"asm(\".include\"",
        ] {
            assert!(scan(text).hidden_input, "{}", String::from_utf8_lossy(text));
        }
        assert!(!scan(b"#include \"a.h\"\n// dependency on GCC's extensions\n").hidden_input);
        // openssl's crypto/conf/conf_def.c: a keyword, no directive.
        assert!(!scan(b"} else if (CHECK_AND_SKIP_PREFIX(pname, \".include\")) {").hidden_input);
        assert!(!scan(b"static const char *k[] = { \".include\" , \".x\" };").hidden_input);
    }

    #[test]
    fn new_shadowing_header_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("inc1")).unwrap();
        fs::create_dir_all(d.join("inc2")).unwrap();
        fs::create_dir_all(d.join("src")).unwrap();
        fs::write(d.join("src/a.c"), "#include \"u.h\"\n").unwrap();
        fs::write(d.join("inc2/u.h"), "int x;\n").unwrap();
        let files = vec![d.join("src/a.c"), d.join("inc2/u.h")];
        let search = SearchPath {
            dirs: vec![d.join("inc1"), d.join("inc2")],
            quote_only: 0,
        };
        let map = PathMap::new();
        let obs = observe(&files, &search, &map, opts()).unwrap();
        let store = Store::open(d.join("store")).unwrap();
        let pre = ActionId([1; 32]);
        let key = obs.key(&pre).id();
        store.put(&key, b"object").unwrap();
        Manifest::add_and_save(&store, &pre, obs).unwrap();
        let m = Manifest::load(&store, &pre);
        assert_eq!(m.find(&store, &pre, &map, &[]).map(|r| r.0), Some(key));
        // Shadowed earlier in the -I list:
        fs::write(d.join("inc1/u.h"), "int y;\n").unwrap();
        assert!(m.find(&store, &pre, &map, &[]).is_none());
        fs::remove_file(d.join("inc1/u.h")).unwrap();
        assert!(m.find(&store, &pre, &map, &[]).is_some());
        // Shadowed beside the including file:
        fs::write(d.join("src/u.h"), "int z;\n").unwrap();
        assert!(m.find(&store, &pre, &map, &[]).is_none());
        fs::remove_file(d.join("src/u.h")).unwrap();
        // Edited:
        fs::write(d.join("inc2/u.h"), "int x2;\n").unwrap();
        assert!(m.find(&store, &pre, &map, &[]).is_none());
    }

    /// The manifest's header and probe lines are the final key's own
    /// [`KeyLine`]s, and read back to the same header sets.
    #[test]
    fn manifest_lines_round_trip_as_key_lines() {
        let m = Manifest {
            entries: vec![
                Observed {
                    files: vec![
                        ("/w/a b.c".into(), "11".repeat(32)),
                        ("/w/u.h".into(), "22".repeat(32)),
                    ],
                    probes: vec![("/w/inc/u.h".into(), false), ("/w/x\\y.h".into(), true)],
                    macros: vec![
                        ("DATADIR".into(), Some("\"/w/a\"".into())),
                        ("NDEBUG".into(), None),
                    ],
                },
                Observed::default(),
            ],
        };
        let text = m.render();
        assert_eq!(Manifest::parse(&text), Some(m.clone()));
        let obs = &m.entries[0];
        let key = obs.key(&ActionId([3; 32]));
        let lines: Vec<KeyLine> = key
            .lines()
            .iter()
            .filter_map(|l| KeyLine::parse(l))
            .collect();
        assert_eq!(lines.len(), key.lines().len());
        assert_eq!(lines[2..].to_vec(), obs.lines().collect::<Vec<_>>());
        for line in obs.lines() {
            assert!(text.contains(&line.render()), "{line:?} not in\n{text}");
        }
        // A v1 manifest (other line forms) is not read as this one.
        assert_eq!(
            Manifest::parse("gocache-manifest v1\nentry\nfile 00 /a.h\n"),
            None
        );
        assert_eq!(
            Manifest::parse("gocache-manifest v2\nentry\narg -O2\n"),
            None
        );
    }

    /// An entry's macros hold while the command line gives the macros it
    /// kept the values it lists, whatever the others' values.
    #[test]
    fn an_entry_holds_while_its_macros_keep_their_values() {
        let v = |pairs: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect()
        };
        let obs = Observed {
            macros: v(&[("A", Some("1")), ("F(x)", Some("x"))]),
            ..Observed::default()
        };
        let now = v(&[
            ("A", Some("1")),
            ("DIR", Some("/w/one")),
            ("F(x)", Some("x")),
        ]);
        assert!(obs.macros_hold(&now));
        let moved = v(&[
            ("A", Some("1")),
            ("DIR", Some("/w/two")),
            ("F(x)", Some("x")),
        ]);
        assert!(obs.macros_hold(&moved));
        let changed = v(&[
            ("A", Some("2")),
            ("DIR", Some("/w/one")),
            ("F(x)", Some("x")),
        ]);
        assert!(!obs.macros_hold(&changed));
        let implicit = v(&[("A", None), ("DIR", Some("/w/one")), ("F(x)", Some("x"))]);
        assert!(!obs.macros_hold(&implicit));
        assert!(Observed::default().macros_hold(&changed));
    }

    #[test]
    fn names_are_found_as_whole_identifiers() {
        let names = ["DATADIR".to_string(), "X".to_string()];
        let found = |text: &[u8]| identifiers_named(text, &names);
        assert_eq!(found(b"#define DATADIR \"/x\"\n"), ["DATADIR"]);
        assert_eq!(found(b"# /* c */ define X 2\n"), ["X"]);
        assert!(found(b"int MYDATADIR, DATADIR_2, X1, \xc3\xa9X;\n").is_empty());
        // After line splicing, as the compiler reads it.
        let spliced = splice(b"#define DATA\\\nDIR 1\n");
        assert_eq!(identifiers_named(&spliced, &names), ["DATADIR"]);
    }

    #[test]
    fn lookup_says_why_it_missed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.c"), "int x;\n").unwrap();
        let store = Store::open(d.join("store")).unwrap();
        let map = PathMap::new();
        let pre = ActionId([4; 32]);
        assert_eq!(
            Manifest::load_checked(&store, &pre),
            Err(MissReason::NoEntry)
        );
        let obs = observe(&[d.join("a.c")], &SearchPath::default(), &map, opts()).unwrap();
        Manifest::add_and_save(&store, &pre, obs.clone()).unwrap();
        let m = Manifest::load_checked(&store, &pre).unwrap();
        // The header set holds, its result is not in the store.
        let got = m
            .lookup_with(&store, &pre, &map, &mut RealDisk, &[])
            .map(|r| r.0);
        assert_eq!(got, Err(MissReason::OutputMissing));
        let key = obs.key(&pre).id();
        store.put(&key, b"result").unwrap();
        assert_eq!(
            m.lookup_with(&store, &pre, &map, &mut RealDisk, &[])
                .map(|r| r.0),
            Ok(key)
        );
        fs::write(d.join("a.c"), "int y;\n").unwrap();
        let got = m
            .lookup_with(&store, &pre, &map, &mut RealDisk, &[])
            .map(|r| r.0);
        assert_eq!(got, Err(MissReason::NoHeaderSetMatched));
        assert_eq!(
            Manifest::default()
                .lookup_with(&store, &pre, &map, &mut RealDisk, &[])
                .map(|r| r.0),
            Err(MissReason::NoEntry)
        );
        store
            .put(&manifest_key(&pre), b"gocache-manifest v0\n")
            .unwrap();
        assert_eq!(
            Manifest::load_checked(&store, &pre),
            Err(MissReason::EntryDamaged)
        );
    }

    #[test]
    fn uncacheable_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.c");
        fs::write(&a, "const char *t = __TIME__;").unwrap();
        let map = PathMap::new();
        let search = SearchPath::default();
        let e = observe(std::slice::from_ref(&a), &search, &map, opts()).unwrap_err();
        assert_eq!(e.reason(), "time-macros");
        let sde = ObserveOptions {
            source_date_epoch: true,
            ..opts()
        };
        assert!(observe(std::slice::from_ref(&a), &search, &map, sde).is_ok());
        let past = ObserveOptions {
            started: SystemTime::now() - Duration::from_secs(60),
            ..sde
        };
        assert_eq!(
            observe(std::slice::from_ref(&a), &search, &map, past)
                .unwrap_err()
                .reason(),
            "modified-during-compile"
        );
        // Written in the compile's tick, but its bytes are the bytes the
        // pre-key hashed before the compile ran: held, so it is cacheable.
        let held = [(a.clone(), hex(&hash_bytes(&fs::read(&a).unwrap())))];
        let fresh_held = ObserveOptions {
            held: &held,
            ..past
        };
        assert!(observe(std::slice::from_ref(&a), &search, &map, fresh_held).is_ok());
        // Held with other bytes (it changed after the pre-key read it), or
        // another file held: still modified during the compile.
        let stale = [(a.clone(), hex(&hash_bytes(b"int old;")))];
        let other = [(dir.path().join("b.c"), held[0].1.clone())];
        for held in [&stale[..], &other[..]] {
            let o = ObserveOptions { held, ..past };
            assert_eq!(
                observe(std::slice::from_ref(&a), &search, &map, o)
                    .unwrap_err()
                    .reason(),
                "modified-during-compile"
            );
        }
    }
}
