//! `cargo gocache explain`: why each miss of the last run missed: the
//! lookup's own reason (kept in the event, `MissReason`), then the key
//! lines that differ.
//!
//! Each miss's key record is compared with the nearest earlier record of the
//! same object (the fewest differing inputs), from the history the wrapper
//! and the helper keep at every miss (`crate::stats::explain`).
//! The difference is a list of [`KeyChange`]s, each with the old and the new
//! value, in the spirit of cargo's `DirtyReason`: `mem.h: content changed`,
//! `flag -DNDEBUG added`, `compiler gcc 12.2.0 -> 13.1.0`. Records are read
//! back into typed lines ([`KeyLine::parse`]), never compared as text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::key::line::KeyLine;
use crate::stats::explain::{history, record_object};
use crate::stats::{self, Outcome};
use crate::{ActionId, Store};
use anyhow::Result;

/// `explain`: every miss of the last run, against the nearest earlier
/// build of the same object.
pub fn run(store: &Store, pattern: Option<&str>) -> Result<()> {
    let log = stats::last_run_log(store);
    if !log.exists() {
        anyhow::bail!(
            "no record of a last run ({}): explain reads the misses of the last `cargo gocache` command",
            log.display()
        );
    }
    let mut shown = 0;
    for e in stats::read_events(&log) {
        let (Outcome::Miss, Some(action)) = (&e.outcome, e.action) else {
            continue;
        };
        if e.build_script {
            // A build script's run: its own record of what changed.
            if pattern.is_some_and(|p| !e.source.contains(p)) {
                continue;
            }
            shown += 1;
            println!("miss: {} (run, then stored)", e.source);
            let why = store
                .get_bytes(&crate::stats::explain::build_script_key(&action))
                .and_then(|(_, b)| String::from_utf8(b).ok());
            match why {
                Some(text) => text.lines().for_each(|l| println!("    {l}")),
                None => println!("    no record of why"),
            }
            continue;
        }
        let x = explain(store, &action);
        let object = x.object.clone().unwrap_or_else(|| e.source.clone());
        if let Some(p) = pattern {
            if !e.source.contains(p) && !object.contains(p) {
                continue;
            }
        }
        shown += 1;
        println!("miss: {object}");
        // Why the lookup missed, as it decided (older logs have no reason).
        if let Some(why) = e.miss {
            println!("    lookup: {why}");
        }
        match (x.against, x.changes.is_empty()) {
            (None, _) => println!("    first build of this object (nothing earlier in the cache)"),
            (Some(_), true) => match e.miss {
                Some(why) => println!("    same inputs as an earlier build ({why})"),
                None => println!("    same inputs as an earlier build"),
            },
            (Some(_), false) => {
                for c in &x.changes {
                    println!("    {c}");
                }
            }
        }
    }
    if shown == 0 {
        match pattern {
            Some(p) => println!("no misses matching {p:?} in the last run"),
            None => println!("no misses in the last run"),
        }
    }
    // Compiles that could not be cached at all, by the user's choice.
    if let Some(hint) = crate::runner::time_macro_hint(&stats::read_events(&log)) {
        println!("{}", hint.trim_start_matches("gocache: "));
    }
    Ok(())
}

/// One input that differs between an earlier key and the miss's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// The compiler's version line changed.
    CompilerVersion {
        /// The earlier version line.
        old: String,
        /// The version line now.
        new: String,
    },
    /// Same version line, different binary (a rebuilt or patched compiler).
    CompilerBinary,
    /// A command-line argument appeared.
    FlagAdded(String),
    /// A command-line argument went away.
    FlagRemoved(String),
    /// The same arguments, in another order (include order matters).
    FlagOrder,
    /// An environment variable that changes the output changed.
    Env {
        /// The variable.
        name: String,
        /// Its earlier value (`None`: unset).
        old: Option<String>,
        /// Its value now.
        new: Option<String>,
    },
    /// The value of a command-line macro changed (`-DNAME=VALUE`).
    Macro {
        /// The macro's name (with its parameters, if any).
        name: String,
        /// Its earlier value (`None`: `-DNAME`, which is 1).
        old: Option<String>,
        /// Its value now.
        new: Option<String>,
        /// Whether this compile used it (expanded it, or tested it): only
        /// then is it in the key; a change of an unused one did not
        /// matter.
        used: bool,
    },
    /// The source file's content changed.
    SourceChanged(String),
    /// A file read by the compile (a header) changed.
    FileChanged(String),
    /// A file is read now that was not before.
    FileAdded(String),
    /// A file read before is read no more.
    FileRemoved(String),
    /// A file appeared (or went away) where the compiler searches, which
    /// may shadow a header.
    Probe {
        /// Where.
        path: String,
        /// A file is there now (else: it was, and is gone).
        now_present: bool,
    },
    /// Any other input line (`target`, `lang`, `cwd`...).
    Other {
        /// The kind of line (`target`, `lang`, `cwd`...).
        what: String,
        /// The earlier value.
        old: Option<String>,
        /// The value now.
        new: Option<String>,
    },
}

impl fmt::Display for KeyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        match self {
            KeyChange::CompilerVersion { old, new } => write!(f, "compiler {old} -> {new}"),
            KeyChange::CompilerBinary => f.write_str("compiler binary changed (same version)"),
            KeyChange::FlagAdded(a) => write!(f, "flag {a} added"),
            KeyChange::FlagRemoved(a) => write!(f, "flag {a} removed"),
            KeyChange::FlagOrder => f.write_str("flags reordered"),
            KeyChange::Env { name, old, new } => {
                write!(f, "env {name} changed: {} -> {}", opt(old), opt(new))
            }
            KeyChange::Macro {
                name,
                old,
                new,
                used,
            } => {
                let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "1".into());
                write!(f, "macro {name} changed: {} -> {}", v(old), v(new))?;
                if *used {
                    f.write_str(" (used by this compile)")
                } else {
                    f.write_str(" (not used by this compile: did not matter)")
                }
            }
            KeyChange::SourceChanged(p) => write!(f, "{p}: content changed"),
            KeyChange::FileChanged(p) => write!(f, "{p}: content changed"),
            KeyChange::FileAdded(p) => write!(f, "{p}: now included"),
            KeyChange::FileRemoved(p) => write!(f, "{p}: no longer included"),
            KeyChange::Probe {
                path,
                now_present: true,
            } => write!(f, "{path}: appeared in the include search path"),
            KeyChange::Probe {
                path,
                now_present: false,
            } => write!(f, "{path}: removed from the include search path"),
            KeyChange::Other { what, old, new } => write!(f, "{what} {} -> {}", opt(old), opt(new)),
        }
    }
}

/// The explanation of one miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The object, if the record names one.
    pub object: Option<String>,
    /// What it was compared with: `None` when nothing earlier is known
    /// (the first build of this object, or its history was trimmed).
    pub against: Option<ActionId>,
    /// The differences; empty with `against` set means the same inputs
    /// (the entry was trimmed or lost).
    pub changes: Vec<KeyChange>,
}

/// Explain the miss that produced `action`.
pub fn explain(store: &Store, action: &ActionId) -> Explanation {
    let Some(record) = store.key_inputs(action) else {
        return Explanation {
            object: None,
            against: None,
            changes: Vec::new(),
        };
    };
    let object = record_object(&record).map(str::to_string);
    let mut best: Option<(ActionId, Vec<KeyChange>)> = None;
    if let Some(obj) = &object {
        let hist = history(store, obj);
        // Only actions recorded before this one: explain against the past.
        let earlier = match hist.iter().position(|a| a == action) {
            Some(i) => &hist[..i],
            None => &hist[..],
        };
        for a in earlier.iter().rev() {
            let Some(old) = store.key_inputs(a) else {
                continue;
            };
            let changes = diff(&old, &record);
            if best.as_ref().is_none_or(|(_, b)| changes.len() < b.len()) {
                best = Some((*a, changes));
            }
        }
    }
    match best {
        Some((a, changes)) => Explanation {
            object,
            against: Some(a),
            changes,
        },
        None => Explanation {
            object,
            against: None,
            changes: Vec::new(),
        },
    }
}

/// The inputs that differ between two key records, old against new.
pub fn diff(old: &str, new: &str) -> Vec<KeyChange> {
    let (o, n) = (Parsed::of(old), Parsed::of(new));
    let mut out = Vec::new();
    if o.version != n.version {
        out.push(KeyChange::CompilerVersion {
            old: o.version.clone().unwrap_or_default(),
            new: n.version.clone().unwrap_or_default(),
        });
    } else if o.compiler != n.compiler {
        out.push(KeyChange::CompilerBinary);
    }
    let (oa, na): (BTreeSet<&String>, BTreeSet<&String>) =
        (o.args.iter().collect(), n.args.iter().collect());
    for a in na.difference(&oa) {
        out.push(KeyChange::FlagAdded((*a).clone()));
    }
    for a in oa.difference(&na) {
        out.push(KeyChange::FlagRemoved((*a).clone()));
    }
    if oa == na && o.args != n.args {
        out.push(KeyChange::FlagOrder);
    }
    for name in o.env.keys().chain(n.env.keys()).collect::<BTreeSet<_>>() {
        let (ov, nv) = (o.env.get(name), n.env.get(name));
        if ov != nv {
            out.push(KeyChange::Env {
                name: name.clone(),
                old: ov.cloned(),
                new: nv.cloned(),
            });
        }
    }
    // A macro's value, used or not (a key record lists the unused ones
    // apart): the used ones are in the key, the others did not matter.
    // A key that kept every value (its miss did not ask gcc) may list an
    // unused one in both: the lookup before it asked.
    let old_macro = |name: &String| o.macros.get(name).or_else(|| o.unused_macros.get(name));
    for (name, value, used) in n
        .macros
        .iter()
        .filter(|(k, _)| !n.unused_macros.contains_key(*k))
        .map(|(k, v)| (k, v, true))
        .chain(n.unused_macros.iter().map(|(k, v)| (k, v, false)))
    {
        if let Some(old) = old_macro(name) {
            if old != value {
                out.push(KeyChange::Macro {
                    name: name.clone(),
                    old: old.clone(),
                    new: value.clone(),
                    used,
                });
            }
        }
    }
    for (name, h) in &n.sources {
        match o.sources.get(name) {
            Some(oh) if oh != h => out.push(KeyChange::SourceChanged(name.clone())),
            _ => {}
        }
    }
    for (what, nv) in &n.other {
        if o.other.get(what) != Some(nv) {
            out.push(KeyChange::Other {
                what: what.clone(),
                old: o.other.get(what).cloned(),
                new: Some(nv.clone()),
            });
        }
    }
    for (what, ov) in &o.other {
        if !n.other.contains_key(what) {
            out.push(KeyChange::Other {
                what: what.clone(),
                old: Some(ov.clone()),
                new: None,
            });
        }
    }
    // Headers: only when the compile itself is otherwise comparable do
    // they say much, but they are listed either way. The source appears
    // among the files too; it was reported above.
    for (path, h) in &n.files {
        if n.sources.contains_key(path) {
            continue;
        }
        match o.files.get(path) {
            Some(oh) if oh != h => out.push(KeyChange::FileChanged(path.clone())),
            None => out.push(KeyChange::FileAdded(path.clone())),
            _ => {}
        }
    }
    for path in o.files.keys() {
        if !n.files.contains_key(path) && !o.sources.contains_key(path) {
            out.push(KeyChange::FileRemoved(path.clone()));
        }
    }
    for (path, present) in &n.probes {
        if o.probes.get(path).is_some_and(|was| was != present) {
            out.push(KeyChange::Probe {
                path: path.clone(),
                now_present: *present,
            });
        }
    }
    out
}

/// A key record read back into typed lines, grouped for comparison.
#[derive(Default)]
struct Parsed {
    version: Option<String>,
    compiler: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    sources: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
    probes: BTreeMap<String, bool>,
    macros: BTreeMap<String, Option<String>>,
    unused_macros: BTreeMap<String, Option<String>>,
    other: BTreeMap<String, String>,
}

impl Parsed {
    /// Every line through [`KeyLine::parse`]; a line that is not one (the
    /// object comment, a line of an older format) is skipped. An archive's
    /// key repeats its sources' common lines once per source: grouped
    /// here, they count once.
    fn of(record: &str) -> Parsed {
        let mut p = Parsed::default();
        let mut relocations: BTreeSet<String> = BTreeSet::new();
        let mut seen_args: BTreeSet<String> = BTreeSet::new();
        for text in record.lines() {
            if let Some(rest) = text.strip_prefix(crate::cmdline::macros::UNUSED_PREFIX) {
                if let Some(KeyLine::Macro { name, value }) =
                    KeyLine::parse(&format!("macro {rest}"))
                {
                    p.unused_macros.insert(name, value);
                }
                continue;
            }
            let Some(line) = KeyLine::parse(text) else {
                p.other_line(text);
                continue;
            };
            let kind = line.kind();
            match line {
                KeyLine::CompilerVersion(v) => p.version = Some(v),
                KeyLine::Compiler(id) => p.compiler = Some(id),
                KeyLine::Arg(a) | KeyLine::MacroArg(a) => {
                    // Once per distinct argument for an archive's repeated
                    // compiles; a wrapped compile's order is kept.
                    if p.sources.is_empty() || seen_args.insert(a.clone()) {
                        seen_args.insert(a.clone());
                        p.args.push(a);
                    }
                }
                KeyLine::Env(k, v) | KeyLine::ToolEnv(k, v) => {
                    p.env.insert(k, v);
                }
                KeyLine::Source { hash, name } => {
                    p.sources.insert(name, hash);
                }
                KeyLine::Header { hash, path } => {
                    p.files.insert(path, hash);
                }
                KeyLine::Probe { path, present } => {
                    p.probes.insert(path, present);
                }
                KeyLine::Macro { name, value } => {
                    p.macros.insert(name, value);
                }
                KeyLine::Relocation(n) => {
                    relocations.insert(n);
                }
                // Salts say which key; the pre line is derived from the
                // lines above.
                KeyLine::Salt(_) | KeyLine::Pre(_) => {}
                KeyLine::Lib(v)
                | KeyLine::Target(v)
                | KeyLine::Native(v)
                | KeyLine::Lang(v)
                | KeyLine::Depfile(v)
                | KeyLine::Cwd(v) => {
                    p.other.insert(kind.to_string(), v);
                }
                KeyLine::Relocate(on) => {
                    p.other
                        .insert(kind.into(), if on { "on" } else { "off" }.into());
                }
            }
        }
        if !relocations.is_empty() {
            let names: Vec<String> = relocations.into_iter().collect();
            p.other.insert("relocation".into(), names.join(" "));
        }
        p
    }

    /// A line of the Rust wrapper's own (`input`, `extern:NAME HASH FILE`,
    /// `native:PATH HASH`, `env-mapped K=V`, `env-unset K`...): its first
    /// word names it, the rest is its value. Comments (`# object`) are not
    /// inputs.
    fn other_line(&mut self, text: &str) {
        if text.starts_with('#') {
            return;
        }
        let (what, value) = text.split_once(' ').unwrap_or((text, ""));
        match what {
            "env-mapped" => {
                if let Some((k, v)) = value.split_once('=') {
                    self.env.insert(k.to_string(), v.to_string());
                }
            }
            // Unset is how `diff` shows an absent variable.
            "env-unset" => {}
            _ => {
                self.other.insert(what.to_string(), value.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::explain::{compile_object, note_miss};

    const OLD: &str = "# object compile a.c -> a.o\ngocache-compile v2\ncompiler aaa\ncompiler-version gcc 12.2.0\nlang c\narg -O2\narg -Iinc\nenv CPATH=/x\nsource 1111111111111111111111111111111111111111111111111111111111111111 /w/a.c\ngocache-final v2\npre 00\nheader 1111111111111111111111111111111111111111111111111111111111111111 /w/a.c\nheader 22 /w/inc/mem.h\nprobe absent /w/src/mem.h\n";

    #[test]
    fn names_exactly_what_changed() {
        assert_eq!(diff(OLD, OLD), vec![]);
        let new = OLD.replace("header 22 /w/inc/mem.h", "header 33 /w/inc/mem.h");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::FileChanged("/w/inc/mem.h".into())]
        );
        assert_eq!(
            diff(OLD, &new)[0].to_string(),
            "/w/inc/mem.h: content changed"
        );
        let new = OLD.replace("arg -O2\n", "arg -O2\narg -DNDEBUG\n");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::FlagAdded("-DNDEBUG".into())]
        );
        let new = OLD.replace(
            "compiler aaa\ncompiler-version gcc 12.2.0",
            "compiler bbb\ncompiler-version gcc 13.1.0",
        );
        assert_eq!(
            diff(OLD, &new)[0].to_string(),
            "compiler gcc 12.2.0 -> gcc 13.1.0"
        );
        assert_eq!(diff(OLD, &new).len(), 1);
        let new = OLD.replace("env CPATH=/x", "env CPATH=/y");
        assert_eq!(
            diff(OLD, &new)[0].to_string(),
            "env CPATH changed: /x -> /y"
        );
        let new = OLD.replace("probe absent /w/src/mem.h", "probe present /w/src/mem.h");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::Probe {
                path: "/w/src/mem.h".into(),
                now_present: true
            }]
        );
        let new = OLD.replace("arg -O2\narg -Iinc", "arg -Iinc\narg -O2");
        assert_eq!(diff(OLD, &new), vec![KeyChange::FlagOrder]);
    }

    /// Lines are compared as typed lines, not as text prefixes: a value
    /// that merely starts like another kind of line is still its own kind.
    #[test]
    fn compares_typed_lines() {
        let new = OLD.replace("arg -O2\n", "arg -O2\narg env X=1\n");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::FlagAdded("env X=1".into())]
        );
        let new = OLD.replace("lang c\n", "lang c++\n");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::Other {
                what: "lang".into(),
                old: Some("c".into()),
                new: Some("c++".into())
            }]
        );
        // An escaped newline in a value stays one argument.
        let new = OLD.replace("arg -O2\n", "arg -DX=a\\nb\narg -O2\n");
        assert_eq!(
            diff(OLD, &new),
            vec![KeyChange::FlagAdded("-DX=a\nb".into())]
        );
    }

    /// An archive's key holds each source's compile lines: the shared ones
    /// count once, and a change to one source names that source.
    #[test]
    fn archive_records_group_their_sources() {
        let unit = |src: &str, h: &str| {
            format!("gocache-compile v2\ncompiler aaa\ncompiler-version gcc 12\narg -O2\narg -DX=1\nsource {} {src}\n", h.repeat(64))
        };
        let rec = |hb: &str, extra: &str| {
            format!(
                "# object archive /gocache/out/x/libx.a\ngocache-archive v2\nlib x\n{}{}{extra}",
                unit("src/a.c", "1"),
                unit("src/b.c", hb)
            )
        };
        let old = rec("2", "");
        assert_eq!(diff(&old, &old), vec![]);
        assert_eq!(
            diff(&old, &rec("3", "")),
            vec![KeyChange::SourceChanged("src/b.c".into())]
        );
        let new = old.replace("arg -DX=1", "arg -DX=2");
        assert_eq!(
            diff(&old, &new),
            vec![
                KeyChange::FlagAdded("-DX=2".into()),
                KeyChange::FlagRemoved("-DX=1".into())
            ]
        );
    }

    /// A used macro's value is a change that mattered; an unused one's
    /// (kept in the record, not in the key) is said not to have.
    #[test]
    fn says_which_macro_mattered() {
        let rec = |data: &str, modules: &str| {
            format!(
                "# object compile a.c -> a.o\ngocache-compile v3\ncompiler aaa\ncompiler-version gcc 12\nmacro-arg -DDATADIR\nmacro-arg -DMODULESDIR\nsource {h} a.c\ngocache-final v3\npre 00\nmacro DATADIR=\"{data}\"\n# unused-macro MODULESDIR=\"{modules}\"\n",
                h = "1".repeat(64)
            )
        };
        let old = rec("/a/x", "/a/m");
        assert_eq!(diff(&old, &old), vec![]);
        let changes = diff(&old, &rec("/b/x", "/b/m"));
        assert_eq!(
            changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "macro DATADIR changed: \"/a/x\" -> \"/b/x\" (used by this compile)",
                "macro MODULESDIR changed: \"/a/m\" -> \"/b/m\" (not used by this compile: did not matter)",
            ]
        );
    }

    #[test]
    fn explains_against_the_nearest_earlier_action() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let obj = compile_object("a.c", "a.o");
        let far = OLD
            .replace("arg -O2\n", "arg -O0\n")
            .replace("env CPATH=/x", "env CPATH=/z");
        let near = OLD.to_string();
        let new = OLD.replace("arg -O2\n", "arg -O2\narg -DNDEBUG\n");
        for (i, rec) in [far, near, new].iter().enumerate() {
            let a = ActionId([i as u8 + 1; 32]);
            store.put_key_inputs(&a, rec).unwrap();
            note_miss(&store, &obj, &a);
        }
        let e = explain(&store, &ActionId([3; 32]));
        assert_eq!(e.against, Some(ActionId([2; 32])));
        assert_eq!(e.changes, vec![KeyChange::FlagAdded("-DNDEBUG".into())]);
        // The first of its object: nothing to compare with.
        let first = explain(&store, &ActionId([1; 32]));
        assert_eq!((first.against, first.changes.len()), (None, 0));
        assert_eq!(first.object.as_deref(), Some("compile a.c -> a.o"));
    }
}
