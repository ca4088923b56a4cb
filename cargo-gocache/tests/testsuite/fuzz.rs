//! Randomized differential tests: a seeded generator of edit sequences over
//! a small C tree, each step compiled through the wrapper (and every few
//! steps through the build.rs helper) and compared with the same compile
//! uncached, byte for byte.
//!
//! # The tree
//!
//! Two checkouts, `A/` and `B/`, share one store (`B` is made by `cp -a`
//! of `A`, mtimes kept). In each: `src/main.c` (the source), headers named
//! `a.h`..`d.h` and `p.h` (the `-include` file) in the header directories
//! [`DIRS`] (`-iquote q`, `-I i1 i2`, `-isystem s1`, `-idirafter s2`,
//! `w1/inc` and `w2/inc` for a relative `-Iinc` from `w1` or `w2`, `cp` for
//! `CPATH`, `nope` that comes and goes), `ln`, a symlink to a directory (or
//! dangling), used as `-I ln`. Headers use `#include_next`,
//! `__has_include`, `__FILE__`, `#warning`, and include each other.
//!
//! # The operations (see [`World::edit`])
//!
//! Headers written, removed, renamed (over others), replaced with the same
//! size and the mtime restored (in place, or through a rename: new inode),
//! touched, symlinked (to a header, possibly dangling), whole directories
//! removed, the `ln` directory symlink retargeted; the source rewritten or
//! replaced with the mtime kept; command lines made and mutated (include
//! options absolute or relative, joined or not, in any order, `-D` values,
//! a `-D` holding the checkout's path, `-g`, `-O1`, `-Wall`, `-MD`/`-MMD`
//! with `-MF`/`-MP`/`-MT`, `-include`, `CPATH`); the working directory
//! moved; checkout `B` synced from `A` and the current checkout switched;
//! a pause longer than the stamp memo's racy window, so memos and steady
//! hit snapshots are used.
//!
//! # The comparison
//!
//! The wrapper is compared with plain gcc run in the same directory with
//! the same arguments **plus the `-ffile-prefix-map` flags the wrapper
//! adds** (the stable names documented in `compile.rs`, computed here from
//! the documented table, not from the engine): that is the compile the
//! wrapper promises to reproduce. `CARGO_GOCACHE_DIR=off` would not be an
//! honest baseline: it adds no relocation flags, so any `-g` object (or
//! `__FILE__` under an absolute `-I`) would differ for the right reasons.
//! Compared: exit status, stdout, stderr and the object byte for byte; the
//! depfile by its rules (targets and prerequisites, in order, repeats
//! dropped): gcc wraps long lines where it likes and lists a header once
//! per time it opened it; the wrapper writes one prerequisite a line,
//! each once, which make reads the same.
//!
//! The helper runs in a child process (this test binary re-run as
//! `fuzz::helper_child`) with a build script's environment, cached, and
//! again with `CARGO_GOCACHE_DIR=off` plus the same relocation flags into
//! another `OUT_DIR`; the archives' objects and the outcome are compared.
//!
//! `GOCACHE_FUZZ_SEED=N` and `GOCACHE_FUZZ_STEPS=N` choose the run; a
//! failure prints the seed, the step and every operation so far, and
//! copies the sandbox to `$TMPDIR/gocache-fuzz-<seed>`. Long runs:
//! `scripts/fuzz-long.sh` (it runs copies of the binaries, through
//! `GOCACHE_FUZZ_BIN`, so a rebuild does not change them halfway).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::support::{Sandbox, GOCACHE_BIN};

/// Header directories, relative to a checkout (`""` is the checkout root).
const DIRS: &[&str] = &[
    "", "src", "i1", "i2", "q", "s1", "s2", "w1", "w2", "w1/inc", "w2/inc", "cp", "nope",
];
/// Header names.
const NAMES: &[&str] = &["a.h", "b.h", "c.h", "d.h", "p.h"];
/// Working directories of compiles, relative to a checkout.
const CWDS: &[&str] = &["", "src", "w1", "w2"];
/// Where the `ln` directory symlink may point (`-` removes it).
const LINK_TARGETS: &[&str] = &["i1", "i2", "nope", "gone", "-"];

const SEED_VAR: &str = "GOCACHE_FUZZ_SEED";
const STEPS_VAR: &str = "GOCACHE_FUZZ_STEPS";
const SPEC_VAR: &str = "GOCACHE_FUZZ_SPEC";
const ROLE_VAR: &str = "GOCACHE_FUZZ_ROLE";

/// splitmix64: small, seedable, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

/// `target` (relative to the checkout) as seen from `cwd` (also relative).
fn rel(cwd: &str, target: &str) -> String {
    let ups = if cwd.is_empty() {
        0
    } else {
        cwd.split('/').count()
    };
    let mut s = "../".repeat(ups);
    s.push_str(target);
    if s.is_empty() {
        ".".into()
    } else {
        s.trim_end_matches('/').to_string()
    }
}

/// One argument of a compile, rendered per checkout and working directory.
#[derive(Clone, Debug, PartialEq)]
enum Arg {
    /// As is.
    Lit(String),
    /// An option with a path relative to the checkout: `-Idir`, `-I dir`,
    /// absolute or relative to the working directory.
    Path {
        opt: &'static str,
        joined: bool,
        target: String,
        abs: bool,
    },
    /// `-DWS="<checkout>/data"`: a path the compiler copies into the object.
    WsDefine,
}

/// A compile: where it runs and its arguments (besides the compiler).
#[derive(Clone, Debug)]
struct Config {
    cwd: &'static str,
    args: Vec<Arg>,
    /// Run with `CPATH=<checkout>/cp`.
    cpath: bool,
}

impl Config {
    fn render(&self, ws: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.args {
            match a {
                Arg::Lit(s) => out.push(s.clone()),
                Arg::Path {
                    opt,
                    joined,
                    target,
                    abs,
                } => {
                    let p = if *abs {
                        ws.join(target).display().to_string()
                    } else {
                        rel(self.cwd, target)
                    };
                    if opt.is_empty() {
                        out.push(p);
                    } else if *joined {
                        out.push(format!("{opt}{p}"));
                    } else {
                        out.push(opt.to_string());
                        out.push(p);
                    }
                }
                Arg::WsDefine => out.push(format!("-DWS=\"{}/data\"", ws.display())),
            }
        }
        out
    }

    fn random(rng: &mut Rng) -> Config {
        let cwd = *rng.pick(CWDS);
        let path = |rng: &mut Rng, opt: &'static str, target: &str| Arg::Path {
            opt,
            joined: !opt.is_empty() && opt.len() == 2 && rng.chance(50),
            target: target.to_string(),
            abs: rng.chance(35),
        };
        let mut args = vec![Arg::Lit("-c".into()), path(rng, "", "src/main.c")];
        args.push(Arg::Lit("-o".into()));
        args.push(path(rng, "", "o/main.o"));
        let mut search: Vec<Vec<Arg>> = Vec::new();
        for (opt, dir) in [
            ("-iquote", "q"),
            ("-I", "i1"),
            ("-I", "i2"),
            ("-I", "ln"),
            ("-isystem", "s1"),
            ("-idirafter", "s2"),
            ("-I", "nope"),
        ] {
            if rng.chance(55) {
                search.push(vec![path(rng, opt, dir)]);
            }
        }
        if rng.chance(30) {
            // Relative to wherever the compile runs: `w1/inc` or `w2/inc`.
            search.push(vec![Arg::Lit("-Iinc".into())]);
        }
        if rng.chance(25) {
            search.push(vec![Arg::Lit("-include".into()), Arg::Lit("p.h".into())]);
        }
        rng.shuffle(&mut search);
        args.extend(search.into_iter().flatten());
        for (percent, lit) in [
            (25, "-DV=1"),
            (25, "-DV=2"),
            (25, "-DUSE_X"),
            (35, "-g"),
            (25, "-O1"),
            (30, "-Wall"),
        ] {
            if rng.chance(percent) {
                args.push(Arg::Lit(lit.into()));
            }
        }
        if rng.chance(20) {
            args.push(Arg::WsDefine);
        }
        if rng.chance(60) {
            args.push(Arg::Lit(if rng.chance(50) { "-MD" } else { "-MMD" }.into()));
            if rng.chance(50) {
                args.push(Arg::Lit("-MF".into()));
                args.push(path(rng, "", "o/main.d"));
            }
            if rng.chance(30) {
                args.push(Arg::Lit("-MP".into()));
            }
            if rng.chance(20) {
                args.push(Arg::Lit("-MT".into()));
                args.push(Arg::Lit("tgt".into()));
            }
        }
        Config {
            cwd,
            args,
            cpath: rng.chance(15),
        }
    }
}

/// What a compile did, as compared.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    object: Option<Vec<u8>>,
    /// The depfile's rules: (targets, prerequisites).
    depfile: Option<Vec<(Vec<String>, Vec<String>)>>,
}

/// A makefile's rules, line continuations joined and escapes read.
fn depfile_rules(text: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let joined = text.replace("\\\n", " ");
    let mut rules = Vec::new();
    for line in joined.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if matches!(chars.peek(), Some(' ' | '#')) => cur.push(chars.next().unwrap()),
                '$' if chars.peek() == Some(&'$') => {
                    chars.next();
                    cur.push('$');
                }
                ' ' | '\t' => {
                    if !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                }
                _ => cur.push(c),
            }
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        // The target ends at the first word ending with an unescaped `:`.
        let mut targets = Vec::new();
        let mut prereqs = Vec::new();
        let mut in_targets = true;
        for w in words {
            if in_targets {
                if let Some(t) = w.strip_suffix(':') {
                    if !t.is_empty() {
                        targets.push(t.to_string());
                    }
                    in_targets = false;
                } else if w == ":" {
                    in_targets = false;
                } else {
                    targets.push(w);
                }
            } else {
                prereqs.push(w);
            }
        }
        // gcc lists a header once per time it opened it; make reads a
        // repeated prerequisite (or phony rule) as one.
        let mut seen = std::collections::HashSet::new();
        prereqs.retain(|p| seen.insert(p.clone()));
        if !rules.contains(&(targets.clone(), prereqs.clone())) {
            rules.push((targets, prereqs));
        }
    }
    rules
}

/// The helper's compile: sources, include directories, defines and flags
/// given to `cc::Build`, relative to the checkout.
#[derive(Clone, Debug)]
struct HelperSpec {
    lines: Vec<String>,
    debug: bool,
}

impl HelperSpec {
    fn random(rng: &mut Rng) -> HelperSpec {
        let mut lines = vec!["file src/main.c".to_string()];
        if rng.chance(30) {
            lines.push("file src/two.c".into());
        }
        let mut dirs: Vec<String> = Vec::new();
        for d in ["i1", "i2", "ln", "nope"] {
            if rng.chance(55) {
                dirs.push(if rng.chance(40) {
                    format!("include {{ws}}/{d}")
                } else {
                    format!("include {d}")
                });
            }
        }
        rng.shuffle(&mut dirs);
        lines.extend(dirs);
        for (percent, flag) in [
            (30, "flag -iquote\nflag q"),
            (30, "flag -isystem\nflag s1"),
            (20, "flag -idirafter\nflag s2"),
            (20, "flag -include\nflag p.h"),
            (30, "define V 1"),
            (25, "define USE_X"),
            (20, "define WS \"{ws}/data\""),
        ] {
            if rng.chance(percent) {
                lines.extend(flag.lines().map(str::to_string));
            }
        }
        HelperSpec {
            lines,
            debug: rng.chance(40),
        }
    }

    fn render(&self, ws: &Path) -> String {
        self.lines
            .join("\n")
            .replace("{ws}", &ws.display().to_string())
    }
}

/// The state of the tree and the run.
struct World {
    sb: Sandbox,
    rng: Rng,
    /// Checkout roots: `A` and `B`.
    checkouts: [PathBuf; 2],
    /// Which checkout edits and compiles go to.
    current: usize,
    /// `B` exists (synced from `A` at least once).
    b_made: bool,
    configs: Vec<Config>,
    helpers: Vec<HelperSpec>,
    /// Every operation so far, for the failure report.
    log: Vec<String>,
    seed: u64,
    step: usize,
    stats: BTreeMap<&'static str, usize>,
}

impl World {
    fn new(seed: u64) -> World {
        let sb = Sandbox::new();
        let checkouts = [sb.path("A"), sb.path("B")];
        let mut w = World {
            rng: Rng(seed),
            checkouts,
            current: 0,
            b_made: false,
            configs: Vec::new(),
            helpers: Vec::new(),
            log: Vec::new(),
            seed,
            step: 0,
            stats: BTreeMap::new(),
            sb,
        };
        let ws = w.ws();
        for d in ["src", "o", "i1", "i2", "w1/inc", "w2/inc"] {
            fs::create_dir_all(ws.join(d)).unwrap();
        }
        w.write_source();
        let two = "int two(void) { return 2; }\n";
        fs::write(ws.join("src/two.c"), two).unwrap();
        for _ in 0..4 {
            let (dir, name) = w.random_header_path();
            w.write_header(dir, name);
        }
        for h in w.headers() {
            let text = fs::read_to_string(ws.join(&h)).unwrap();
            w.note(format!("write {h}:\n{text}"));
        }
        let text = fs::read_to_string(ws.join("src/main.c")).unwrap();
        w.note(format!("write src/main.c:\n{text}"));
        for _ in 0..4 {
            let c = Config::random(&mut w.rng);
            w.configs.push(c);
        }
        for _ in 0..2 {
            let h = HelperSpec::random(&mut w.rng);
            w.helpers.push(h);
        }
        w
    }

    fn ws(&self) -> PathBuf {
        self.checkouts[self.current].clone()
    }

    fn note(&mut self, op: String) {
        self.log.push(format!("step {}: {op}", self.step));
    }

    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    #[track_caller]
    fn fail(&self, why: &str) -> ! {
        let mut report = String::new();
        let _ = writeln!(
            report,
            "fuzz: {why}\nseed {} (rerun with {SEED_VAR}={} {STEPS_VAR}={}), failed at step {}, \
             in checkout {}",
            self.seed,
            self.seed,
            self.step + 1,
            self.step,
            self.ws().display()
        );
        // The tree and the store as they were, for a look by hand.
        let keep = std::env::temp_dir().join(format!("gocache-fuzz-{}", self.seed));
        let _ = fs::create_dir_all(&keep);
        let _ = fs::remove_dir_all(keep.join("sandbox"));
        let _ = Command::new("cp")
            .arg("-a")
            .arg(self.sb.root())
            .arg(keep.join("sandbox"))
            .status();
        let _ = writeln!(report, "the sandbox is copied to {}", keep.display());
        let _ = writeln!(report, "--- operations");
        for l in &self.log {
            let _ = writeln!(report, "{l}");
        }
        panic!("{report}");
    }

    fn random_header_path(&mut self) -> (&'static str, &'static str) {
        (*self.rng.pick(DIRS), *self.rng.pick(NAMES))
    }

    /// Every header file or symlink in the current checkout, relative.
    fn headers(&self) -> Vec<String> {
        let ws = self.ws();
        let mut out = Vec::new();
        for d in DIRS {
            for n in NAMES {
                let rel = join(d, n);
                if fs::symlink_metadata(ws.join(&rel)).is_ok() {
                    out.push(rel);
                }
            }
        }
        out
    }

    fn header_text(&mut self, dir: &str, name: &str) -> String {
        let tag = format!(
            "{}_{}",
            if dir.is_empty() { "root" } else { dir }.replace('/', "_"),
            name.trim_end_matches(".h")
        );
        let k = format!("K{:03}K", self.rng.below(8));
        let mut t = String::new();
        let guard = self.rng.chance(40);
        if guard {
            let _ = writeln!(t, "#ifndef G_{tag}\n#define G_{tag}");
        } else {
            t.push_str("#pragma once\n");
        }
        if self.rng.chance(30) {
            let _ = writeln!(
                t,
                "#if __has_include_next(<{name}>)\n#include_next <{name}>\n#endif"
            );
        }
        if self.rng.chance(30) {
            let other = self.rng.pick(NAMES);
            if self.rng.chance(75) {
                let _ = writeln!(
                    t,
                    "#if __has_include(\"{other}\")\n#include \"{other}\"\n#endif"
                );
            } else {
                let _ = writeln!(t, "#include <{other}>");
            }
        }
        let _ = writeln!(
            t,
            "static const char s_{tag}_{k}[] __attribute__((used)) = \"{dir}/{name} {k}\";"
        );
        if self.rng.chance(30) {
            let _ = writeln!(
                t,
                "static const char f_{tag}_{k}[] __attribute__((used)) = __FILE__;"
            );
        }
        if self.rng.chance(12) {
            let _ = writeln!(t, "#warning \"{tag} {k}\"");
        }
        if self.rng.chance(10) {
            // Unused without the attribute: a -Wall warning.
            let _ = writeln!(t, "static int u_{tag}_{k};");
        }
        if guard {
            t.push_str("#endif\n");
        }
        t
    }

    fn write_header(&mut self, dir: &str, name: &str) {
        let text = self.header_text(dir, name);
        let path = self.ws().join(dir).join(name);
        // A symlink is replaced, not written through.
        let _ = fs::remove_file(&path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    }

    fn source_text(&mut self) -> String {
        let mut t = String::new();
        let k = format!("K{:03}K", self.rng.below(8));
        let n = 1 + self.rng.below(4);
        for _ in 0..n {
            let name = *self.rng.pick(NAMES);
            let (open, close) = if self.rng.chance(50) {
                ('"', '"')
            } else {
                ('<', '>')
            };
            if self.rng.chance(70) {
                let _ = writeln!(
                    t,
                    "#if __has_include({open}{name}{close})\n#include {open}{name}{close}\n#endif"
                );
            } else {
                let _ = writeln!(t, "#include {open}{name}{close}");
            }
        }
        if self.rng.chance(30) {
            let name = *self.rng.pick(NAMES);
            let _ = writeln!(
                t,
                "#if __has_include(\"{name}\")\nint has_it = 1;\n#else\nint has_it = 0;\n#endif"
            );
        }
        let _ = writeln!(
            t,
            "#ifdef V\nint v = V;\n#endif\n#ifdef USE_X\nint x_used = 1;\n#endif\n\
             #ifdef WS\nconst char *ws = WS;\n#endif"
        );
        if self.rng.chance(40) {
            let _ = writeln!(t, "const char *file = __FILE__;");
        }
        let _ = writeln!(
            t,
            "static const char sv[] __attribute__((used)) = \"{k}\";\nint f(void) {{ return {}; }}",
            self.rng.below(100)
        );
        t
    }

    fn write_source(&mut self) {
        let text = self.source_text();
        fs::write(self.ws().join("src/main.c"), text).unwrap();
    }

    /// Rewrite `rel` with its `KnnnK` markers changed (same size), and
    /// its mtime restored: in place (same inode) or through a rename.
    fn replace_keeping_mtime(&mut self, rel: &str) -> bool {
        let path = self.ws().join(rel);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        let text = fs::read_to_string(&path).unwrap();
        let Some(at) = text.find('K') else {
            return false;
        };
        let old = &text[at..at + 5];
        let new = format!("K{:03}K", self.rng.below(8));
        let text = text.replace(old, &new);
        let mtime = meta.modified().unwrap();
        let in_place = self.rng.chance(50);
        if in_place {
            let f = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&path)
                .unwrap();
            use std::io::Write;
            (&f).write_all(text.as_bytes()).unwrap();
            f.set_modified(mtime).unwrap();
        } else {
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, &text).unwrap();
            fs::File::options()
                .write(true)
                .open(&tmp)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            fs::rename(&tmp, &path).unwrap();
        }
        self.note(format!(
            "replace {rel} {old}->{new} keeping size and mtime ({})",
            if in_place { "in place" } else { "renamed over" }
        ));
        true
    }

    /// One random edit of the tree or the command lines.
    fn edit(&mut self) {
        let ws = self.ws();
        let roll = self.rng.below(100);
        match roll {
            0..=19 => {
                let (dir, name) = self.random_header_path();
                self.write_header(dir, name);
                let rel = join(dir, name);
                let text = fs::read_to_string(ws.join(&rel)).unwrap();
                self.note(format!("write {rel}:\n{text}"));
            }
            20..=26 => {
                let hs = self.headers();
                if !hs.is_empty() {
                    let h = self.rng.pick(&hs).clone();
                    fs::remove_file(ws.join(&h)).unwrap();
                    self.note(format!("remove {h}"));
                }
            }
            27..=33 => {
                let hs = self.headers();
                if !hs.is_empty() {
                    let h = self.rng.pick(&hs).clone();
                    let (dir, name) = self.random_header_path();
                    let to = join(dir, name);
                    fs::create_dir_all(ws.join(dir)).unwrap();
                    if fs::rename(ws.join(&h), ws.join(&to)).is_ok() {
                        self.note(format!("rename {h} -> {to}"));
                    }
                }
            }
            34..=43 => {
                let hs = self.headers();
                if !hs.is_empty() {
                    let h = self.rng.pick(&hs).clone();
                    self.replace_keeping_mtime(&h);
                }
            }
            44..=47 => {
                let hs = self.headers();
                if !hs.is_empty() {
                    let h = self.rng.pick(&hs).clone();
                    let when = if self.rng.chance(50) {
                        SystemTime::now()
                    } else {
                        SystemTime::now() - Duration::from_secs(3600)
                    };
                    if let Ok(f) = fs::File::options().write(true).open(ws.join(&h)) {
                        f.set_modified(when).unwrap();
                        self.note(format!("touch {h}"));
                    }
                }
            }
            48..=53 => {
                let (dir, name) = self.random_header_path();
                let (tdir, tname) = self.random_header_path();
                let link = join(dir, name);
                let target = rel(dir, &join(tdir, tname));
                if link != join(tdir, tname) {
                    let path = ws.join(&link);
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    let _ = fs::remove_file(&path);
                    std::os::unix::fs::symlink(&target, &path).unwrap();
                    self.note(format!("symlink {link} -> {target}"));
                }
            }
            54..=58 => {
                let t = *self.rng.pick(LINK_TARGETS);
                let path = ws.join("ln");
                let _ = fs::remove_file(&path);
                if t != "-" {
                    std::os::unix::fs::symlink(t, &path).unwrap();
                }
                self.note(format!("ln -> {t}"));
            }
            59..=61 => {
                let d = *self.rng.pick(DIRS);
                if !["", "src", "w1", "w2"].contains(&d) && ws.join(d).is_dir() {
                    fs::remove_dir_all(ws.join(d)).unwrap();
                    self.note(format!("rm -r {d}"));
                }
            }
            62..=69 => {
                self.write_source();
                let text = fs::read_to_string(ws.join("src/main.c")).unwrap();
                self.note(format!("write src/main.c:\n{text}"));
            }
            70..=72 => {
                self.replace_keeping_mtime("src/main.c");
            }
            73..=78 => {
                let i = self.rng.below(self.configs.len());
                let c = Config::random(&mut self.rng);
                self.note(format!("config {i} = {c:?}"));
                self.configs[i] = c;
            }
            79..=81 => {
                let i = self.rng.below(self.configs.len());
                let cwd = *self.rng.pick(CWDS);
                self.configs[i].cwd = cwd;
                self.note(format!("config {i} cwd = {cwd:?}"));
            }
            82..=84 => {
                let i = self.rng.below(self.helpers.len());
                let h = HelperSpec::random(&mut self.rng);
                self.note(format!("helper {i} = {h:?}"));
                self.helpers[i] = h;
            }
            85..=87 => {
                // B becomes a copy of A, mtimes kept (as a second checkout
                // or a CI cache restore would be).
                let [a, b] = self.checkouts.clone();
                let _ = fs::remove_dir_all(&b);
                let ok = Command::new("cp")
                    .arg("-a")
                    .arg(&a)
                    .arg(&b)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "cp -a failed");
                self.b_made = true;
                self.note("sync B from A (cp -a)".into());
            }
            88..=94 => {
                if self.b_made {
                    self.current = 1 - self.current;
                    self.note(format!("switch to checkout {}", ["A", "B"][self.current]));
                }
            }
            _ => {
                if self.rng.chance(20) {
                    // Older than the memo's racy window: stamps are trusted.
                    std::thread::sleep(Duration::from_millis(2100));
                    self.note("pause 2.1s".into());
                }
            }
        }
    }

    fn compile(&self, config: &Config, cached: bool) -> Outcome {
        let ws = self.ws();
        compile(
            &self.sb,
            &ws,
            config.cwd,
            &config.render(&ws),
            config.cpath,
            cached,
        )
    }

    fn check_wrapper(&mut self, i: usize) {
        let config = self.configs[i].clone();
        let ws = self.ws();
        self.note(format!(
            "compile config {i} in {}/{}: gcc {}{}",
            ["A", "B"][self.current],
            config.cwd,
            config.render(&ws).join(" "),
            if config.cpath { " (CPATH=cp)" } else { "" }
        ));
        let got = self.compile(&config, true);
        let want = self.compile(&config, false);
        self.count(if want.code == Some(0) {
            "wrapper compiles (ok)"
        } else {
            "wrapper compiles (error)"
        });
        if let Some(why) = difference(&got, &want, self.seed) {
            self.fail(&why);
        }
    }

    /// Build the helper spec `i` in a child process; the archive's objects
    /// (sorted by member name), or the failure's output.
    fn helper_build(
        &self,
        spec: &HelperSpec,
        cached: bool,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        helper_build(&self.sb, &self.ws(), spec, cached).unwrap_or_else(|e| self.fail(&e))
    }

    fn check_helper(&mut self, i: usize) {
        let spec = self.helpers[i].clone();
        let ws = self.ws();
        self.note(format!(
            "helper {i} in {}: {:?} debug={}",
            ["A", "B"][self.current],
            spec.render(&ws),
            spec.debug
        ));
        let got = self.helper_build(&spec, true);
        let want = self.helper_build(&spec, false);
        self.count(if want.is_ok() {
            "helper builds (ok)"
        } else {
            "helper builds (error)"
        });
        if got != want {
            let show = |r: &Result<Vec<(String, Vec<u8>)>, String>| match r {
                Ok(m) => format!(
                    "{:?}",
                    m.iter()
                        .map(|(n, b)| (n.as_str(), b.len()))
                        .collect::<Vec<_>>()
                ),
                Err(e) => e.clone(),
            };
            self.fail(&format!(
                "the helper differs from the uncached cc build\n  got:  {}\n  want: {}",
                show(&got),
                show(&want)
            ));
        }
    }
}

/// Printable strings (4+ bytes) of `a` that are not in `b`.
fn strings_minus(a: &[u8], b: &[u8]) -> Vec<String> {
    let strings = |x: &[u8]| -> Vec<String> {
        x.split(|c| !(0x20..0x7f).contains(c))
            .filter(|s| s.len() >= 4)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    };
    let theirs = strings(b);
    strings(a)
        .into_iter()
        .filter(|s| !theirs.contains(s))
        .collect()
}

/// Build `spec` in `ws` through the helper in a child process (`cached`),
/// or with plain cc and the helper's relocation flags into another
/// `OUT_DIR`: `Ok` with the archive's objects by name, or `Ok(Err)` if the
/// compile failed; `Err` if the child broke or the helper warned.
#[allow(clippy::type_complexity)]
fn helper_build(
    sb: &Sandbox,
    ws: &Path,
    spec: &HelperSpec,
    cached: bool,
) -> Result<Result<Vec<(String, Vec<u8>)>, String>, String> {
    let ws = ws.to_path_buf();
    let out_dir = ws.join(if cached { "target/out" } else { "target/ref" });
    fs::create_dir_all(&out_dir).unwrap();
    let mut lines = spec.render(&ws);
    if !cached {
        for f in prefix_maps(sb, &ws, true) {
            // The reference's own OUT_DIR stands where the helper's was.
            let f = f.replace(
                &ws.join("target/out").display().to_string(),
                &out_dir.display().to_string(),
            );
            lines.push_str(&format!("\nflag {f}"));
        }
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "fuzz::helper_child",
        "--nocapture",
        "--test-threads=1",
    ]);
    base_env(sb, &mut cmd);
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    cmd.current_dir(&ws)
        .env(ROLE_VAR, if cached { "cached" } else { "plain" })
        .env(SPEC_VAR, &lines)
        .env(
            "CARGO_GOCACHE_DIR",
            if cached {
                sb.cache_dir()
            } else {
                PathBuf::from("off")
            },
        )
        .env("OUT_DIR", &out_dir)
        .env("TARGET", &target)
        .env("HOST", &target)
        .env("OPT_LEVEL", "0")
        .env("DEBUG", if spec.debug { "true" } else { "false" })
        .env("PROFILE", "debug")
        .env("CARGO_MANIFEST_DIR", &ws)
        .env("CARGO_PKG_NAME", "fz")
        .env("CARGO_PKG_VERSION", "0.1.0")
        .env("CC", "gcc")
        .env("AR", "ar")
        // The helper caches through the wrapper under test.
        .env("CARGO_GOCACHE_PROG", gocache_bin());
    let out = cmd.output().expect("run the helper child");
    let log = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => {}
        Some(3) => return Ok(Err("compile failed".into())),
        _ => return Err(format!("the helper child crashed\n{log}")),
    }
    if String::from_utf8_lossy(&out.stdout).contains("gocache: ") && cached {
        return Err(format!("the helper warned\n{log}"));
    }
    let bytes = fs::read(out_dir.join("libfz.a")).map_err(|e| format!("no archive: {e}\n{log}"))?;
    Ok(Ok(elf_members(&bytes)))
}

/// What differs between the wrapper's outcome and gcc's, if anything;
/// objects that differ are kept in `gocache-fuzz-<keep>` in the temp dir.
fn difference(got: &Outcome, want: &Outcome, keep: u64) -> Option<String> {
    if got == want {
        return None;
    }
    let mut why = String::from("the wrapper differs from the uncached compile");
    let _ = write!(why, "\n  exit: {:?} want {:?}", got.code, want.code);
    if got.stdout != want.stdout {
        let _ = write!(
            why,
            "\n  stdout: {:?}\n  want:   {:?}",
            got.stdout, want.stdout
        );
    }
    if got.stderr != want.stderr {
        let _ = write!(
            why,
            "\n  stderr: {:?}\n  want:   {:?}",
            got.stderr, want.stderr
        );
    }
    if let (Some(g), Some(w), true) = (&got.object, &want.object, got.object != want.object) {
        let keep = std::env::temp_dir().join(format!("gocache-fuzz-{}", keep));
        let _ = fs::create_dir_all(&keep);
        let _ = fs::write(keep.join("got.o"), g);
        let _ = fs::write(keep.join("want.o"), w);
        let _ = write!(
                    why,
                    "\n  strings only in the wrapper's object: {:?}\n  only in gcc's: {:?}\n  (both kept in {})",
                    strings_minus(g, w),
                    strings_minus(w, g),
                    keep.display()
                );
    }
    if got.object != want.object {
        let _ = write!(
            why,
            "\n  object differs: {:?} bytes, want {:?}",
            got.object.as_ref().map(Vec::len),
            want.object.as_ref().map(Vec::len)
        );
    }
    if got.depfile != want.depfile {
        let _ = write!(
            why,
            "\n  depfile: {:?}\n  want:    {:?}",
            got.depfile, want.depfile
        );
    }
    Some(why)
}

/// The `-ffile-prefix-map` flags the wrapper (or, in a build script, the
/// helper) adds, from the table of stable names in `compile.rs`.
fn prefix_maps(sb: &Sandbox, ws: &Path, build_script: bool) -> Vec<String> {
    let ws = ws.to_path_buf();
    let mut entries: Vec<(PathBuf, String)> = Vec::new();
    let mut add = |d: PathBuf, name: String| {
        let canon = fs::canonicalize(&d).ok();
        for d in std::iter::once(d).chain(canon) {
            entries.retain(|(r, _)| *r != d);
            entries.push((d, name.clone()));
        }
    };
    if build_script {
        add(sb.home().join(".cargo"), "/gocache/cargo-home".into());
        add(ws.clone(), "/gocache/pkg/fz-0.1.0".into());
        add(ws.join("target/out"), "/gocache/out/fz-0.1.0".into());
    } else {
        add(ws.clone(), "/gocache/workspace".into());
        add(sb.home().join(".cargo"), "/gocache/cargo-home".into());
    }
    // gcc tries the last one given first: the longest last.
    entries.sort_by_key(|(r, _)| r.as_os_str().len());
    entries
        .iter()
        .map(|(r, n)| format!("-ffile-prefix-map={}={n}", r.display()))
        .collect()
}

/// The environment of every compile: the test's own, cleared of what
/// would change the compile.
fn base_env(sb: &Sandbox, cmd: &mut Command) {
    crate::support::scrub(cmd);
    cmd.env("HOME", sb.home())
        .env("CARGO_HOME", sb.home().join(".cargo"))
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
}

/// Compile `args` in `ws/cwd` through the wrapper (`cached`) or with plain
/// gcc and the wrapper's relocation flags; the object is `ws/o/main.o`,
/// the depfile (if any) `ws/o/main.d`.
fn compile(
    sb: &Sandbox,
    ws: &Path,
    cwd: &str,
    args: &[String],
    cpath: bool,
    cached: bool,
) -> Outcome {
    let cwd = ws.join(cwd);
    let obj = ws.join("o/main.o");
    let dep = ws.join("o/main.d");
    let _ = fs::remove_file(&obj);
    let _ = fs::remove_file(&dep);
    let mut cmd = if cached {
        let mut c = Command::new(gocache_bin());
        c.arg("gcc");
        c
    } else {
        let mut c = Command::new("gcc");
        c.args(prefix_maps(sb, ws, false));
        c
    };
    cmd.args(args).current_dir(&cwd);
    base_env(sb, &mut cmd);
    cmd.env("CARGO_GOCACHE_DIR", sb.cache_dir())
        .env("CARGO_GOCACHE_WORKSPACE", ws);
    if cpath {
        cmd.env("CPATH", ws.join("cp"));
    }
    let out = cmd.output().expect("run the compiler");
    let outcome = Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        object: fs::read(&obj).ok(),
        depfile: fs::read_to_string(&dep).ok().map(|t| depfile_rules(&t)),
    };
    let _ = fs::remove_file(&obj);
    let _ = fs::remove_file(&dep);
    outcome
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The ELF members of an `ar` archive (GNU or BSD names), by name.
fn elf_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut names: &[u8] = &[];
    let mut at = 8;
    while at + 60 <= bytes.len() {
        let h = &bytes[at..at + 60];
        let name = String::from_utf8_lossy(&h[..16]).trim_end().to_string();
        let size: usize = String::from_utf8_lossy(&h[48..58])
            .trim()
            .parse()
            .unwrap_or(0);
        let data = &bytes[at + 60..(at + 60 + size).min(bytes.len())];
        if name == "//" {
            names = data;
        } else if data.starts_with(b"\x7fELF") {
            let name = match name.strip_prefix('/').and_then(|n| n.parse::<usize>().ok()) {
                Some(off) => {
                    let rest = &names[off.min(names.len())..];
                    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                    String::from_utf8_lossy(&rest[..end])
                        .trim_end_matches('/')
                        .to_string()
                }
                None => name.trim_end_matches('/').to_string(),
            };
            // gocache's build ID member is an object too; not the compiler's.
            if !name.starts_with("__.GOCACHE") {
                out.push((name, data.to_vec()));
            }
        }
        at += 60 + size + size % 2;
    }
    out.sort();
    out
}

/// The wrapper under test: this build's, or `GOCACHE_FUZZ_BIN` (a copy,
/// for long runs that must not pick up a rebuild halfway).
fn gocache_bin() -> PathBuf {
    std::env::var_os("GOCACHE_FUZZ_BIN").map_or_else(|| PathBuf::from(GOCACHE_BIN), PathBuf::from)
}

#[track_caller]
fn need_gcc() {
    crate::support::require_tool("gcc");
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
    )
}

/// Run `steps` steps from `seed`: one to three edits, then a compile of a
/// random command line through the wrapper (sometimes twice, the second a
/// hit), and every fifth step a helper build.
fn run(seed: u64, steps: usize) -> BTreeMap<&'static str, usize> {
    need_gcc();
    let mut w = World::new(seed);
    for step in 0..steps {
        w.step = step;
        let edits = 1 + w.rng.below(3);
        for _ in 0..edits {
            w.edit();
        }
        let i = w.rng.below(w.configs.len());
        w.check_wrapper(i);
        if w.rng.chance(30) {
            w.check_wrapper(i);
        }
        if step % 5 == 4 {
            let h = w.rng.below(w.helpers.len());
            w.check_helper(h);
        }
    }
    let events =
        cargo_gocache::stats::read_events(&cargo_gocache::stats::events_log(&w.sb.store()));
    for e in events {
        let what = match e.outcome {
            cargo_gocache::stats::Outcome::Hit => "events: hit",
            cargo_gocache::stats::Outcome::Miss => "events: miss",
            cargo_gocache::stats::Outcome::Uncacheable(_) => "events: uncacheable",
            _ => "events: other",
        };
        w.count(what);
    }
    w.stats
}

/// The CI-sized run: 300 steps from a fixed seed, or the seed and length
/// given by `GOCACHE_FUZZ_SEED` and `GOCACHE_FUZZ_STEPS`.
#[test]
fn wrapper_and_helper_match_uncached_compiles() {
    let seed = env_number(SEED_VAR).unwrap_or(1);
    let steps = env_number(STEPS_VAR).unwrap_or(300) as usize;
    let stats = run(seed, steps);
    eprintln!("fuzz: seed {seed}, {steps} steps: {stats:?}");
    // A run that never hits tests nothing about hits.
    assert!(
        stats.get("events: hit").copied().unwrap_or(0) > 0,
        "no hit in the run: {stats:?}"
    );
}

/// Not a test: the body of the helper's child process (a build script's
/// environment, set by [`World::helper_build`]). Without
/// `GOCACHE_FUZZ_ROLE` it does nothing.
#[test]
fn helper_child() {
    use gocache_build::CachedBuild;
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let spec = std::env::var(SPEC_VAR).expect("GOCACHE_FUZZ_SPEC");
    let mut b = cc::Build::new();
    b.cargo_metadata(false);
    for line in spec.lines() {
        let (what, rest) = line.split_once(' ').unwrap_or((line, ""));
        match what {
            "file" => {
                b.file(rest);
            }
            "include" => {
                b.include(rest);
            }
            "flag" => {
                b.flag(rest);
            }
            "define" => {
                match rest.split_once(' ') {
                    Some((k, v)) => b.define(k, Some(v)),
                    None => b.define(rest, None),
                };
            }
            other => panic!("unknown spec line {other}"),
        }
    }
    let result = match role.as_str() {
        "cached" => b.try_cached_compile("fz").map_err(|e| e.to_string()),
        _ => b.try_compile("fz").map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        eprintln!("compile failed: {e}");
        std::process::exit(3);
    }
}

// ---------------------------------------------------------------------------
// Regressions: what the generator found, shrunk to a few steps each.

/// A checkout `ws/` in a fresh sandbox, with `src/main.c` and `o/`.
fn regression_tree(main_c: &str) -> (Sandbox, PathBuf) {
    need_gcc();
    let sb = Sandbox::new();
    let ws = sb.path("ws");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::create_dir_all(ws.join("o")).unwrap();
    fs::write(ws.join("src/main.c"), main_c).unwrap();
    (sb, ws)
}

/// The wrapper's compile of `args` in `ws/cwd` is gcc's (see the module docs).
#[track_caller]
fn assert_like_gcc(sb: &Sandbox, ws: &Path, cwd: &str, args: &[&str]) {
    assert_like_gcc_env(sb, ws, cwd, args, false)
}

/// [`assert_like_gcc`], with `CPATH=ws/cp` if `cpath`.
#[track_caller]
fn assert_like_gcc_env(sb: &Sandbox, ws: &Path, cwd: &str, args: &[&str], cpath: bool) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let got = compile(sb, ws, cwd, &args, cpath, true);
    let want = compile(sb, ws, cwd, &args, cpath, false);
    if let Some(why) = difference(&got, &want, 0) {
        panic!("gcc {}: {why}", args.join(" "));
    }
}

/// Long enough for the stamp memo to trust what it saw (its racy window).
fn settle() {
    std::thread::sleep(Duration::from_millis(2100));
}

const HAS_D: &str =
    "#if __has_include(\"d.h\")\n#include \"d.h\"\nint has_d = 1;\n#else\nint has_d = 0;\n#endif\n";

/// A dangling symlink `inc/d.h` is no file; when its target appears the
/// directory holding the link is unchanged, so the memo must not have
/// remembered the answer by that directory's stamp.
#[test]
fn dangling_header_symlink_whose_target_appears() {
    let (sb, ws) = regression_tree(HAS_D);
    fs::create_dir_all(ws.join("inc")).unwrap();
    fs::create_dir_all(ws.join("real")).unwrap();
    std::os::unix::fs::symlink("../real/d.h", ws.join("inc/d.h")).unwrap();
    settle();
    let args = ["-c", "src/main.c", "-o", "o/main.o", "-Iinc"];
    assert_like_gcc(&sb, &ws, "", &args);
    assert_like_gcc(&sb, &ws, "", &args);
    fs::write(ws.join("real/d.h"), "int d;\n").unwrap();
    assert_like_gcc(&sb, &ws, "", &args);
}

/// The same through a dangling symlink to a directory (`-I ln`, `ln ->
/// sub/gone`): the probe `ln/d.h` is answered under `ws/`, which does not
/// change when `sub/gone/d.h` is made.
#[test]
fn dangling_directory_symlink_whose_target_appears() {
    let (sb, ws) = regression_tree(HAS_D);
    fs::create_dir_all(ws.join("sub")).unwrap();
    std::os::unix::fs::symlink("sub/gone", ws.join("ln")).unwrap();
    settle();
    let args = ["-c", "src/main.c", "-o", "o/main.o", "-Iln"];
    assert_like_gcc(&sb, &ws, "", &args);
    assert_like_gcc(&sb, &ws, "", &args);
    fs::create_dir_all(ws.join("sub/gone")).unwrap();
    fs::write(ws.join("sub/gone/d.h"), "int d;\n").unwrap();
    assert_like_gcc(&sb, &ws, "", &args);
}

/// `CPATH` directories are searched as `-I` ones are: their headers are
/// user headers, which `-MMD` lists (the wrapper took every directory of
/// the compiler's own list, which shows `CPATH`'s, for a system one).
#[test]
fn mmd_lists_cpath_headers() {
    let (sb, ws) = regression_tree("#include <b.h>\n");
    fs::create_dir_all(ws.join("cp")).unwrap();
    fs::write(ws.join("cp/b.h"), "int b;\n").unwrap();
    let args = ["-c", "src/main.c", "-o", "o/main.o", "-MMD"];
    assert_like_gcc_env(&sb, &ws, "", &args, true);
    assert_like_gcc_env(&sb, &ws, "", &args, true);
}

/// The source is listed by `-MMD` wherever it is, even in an `-isystem`
/// directory.
#[test]
fn mmd_lists_a_source_in_an_isystem_directory() {
    let (sb, ws) = regression_tree("int x;\n");
    let args = [
        "-c",
        "src/main.c",
        "-o",
        "o/main.o",
        "-isystem",
        "src",
        "-MMD",
    ];
    assert_like_gcc(&sb, &ws, "", &args);
    assert_like_gcc(&sb, &ws, "", &args);
}

/// A header found through `-I s/sub` is a user header even though `s` is
/// an `-isystem` directory: the directory it was found in decides.
#[test]
fn mmd_lists_a_header_of_an_include_dir_below_an_isystem_dir() {
    let (sb, ws) = regression_tree("#include <x.h>\n");
    fs::create_dir_all(ws.join("s/sub")).unwrap();
    fs::write(ws.join("s/sub/x.h"), "int x;\n").unwrap();
    let args = [
        "-c",
        "src/main.c",
        "-o",
        "o/main.o",
        "-isystem",
        "s",
        "-Is/sub",
        "-MMD",
    ];
    assert_like_gcc(&sb, &ws, "", &args);
    assert_like_gcc(&sb, &ws, "", &args);
}

/// A header found in a user directory but included by a system header is
/// a system header to gcc, left out by `-MMD`: no depfile shows who
/// included whom, so only gcc can say.
#[test]
fn mmd_leaves_out_a_user_header_included_by_a_system_header() {
    let (sb, ws) = regression_tree("#include <x.h>\n");
    fs::create_dir_all(ws.join("s")).unwrap();
    fs::create_dir_all(ws.join("i")).unwrap();
    fs::write(ws.join("s/x.h"), "#include \"y.h\"\n").unwrap();
    fs::write(ws.join("i/y.h"), "int y;\n").unwrap();
    let args = [
        "-c",
        "src/main.c",
        "-o",
        "o/main.o",
        "-isystem",
        "s",
        "-Ii",
        "-MMD",
    ];
    assert_like_gcc(&sb, &ws, "", &args);
    assert_like_gcc(&sb, &ws, "", &args);
    // A -MD compile of the same command line shares nothing with it that
    // would list y.h for -MMD.
    let md = [
        "-c",
        "src/main.c",
        "-o",
        "o/main.o",
        "-isystem",
        "s",
        "-Ii",
        "-MD",
    ];
    assert_like_gcc(&sb, &ws, "", &md);
    fs::write(ws.join("i/y.h"), "int y2;\n").unwrap();
    assert_like_gcc(&sb, &ws, "", &md);
    assert_like_gcc(&sb, &ws, "", &args);
}

/// A warning names the header by the path gcc opened it by: with an
/// absolute `-I`, this checkout's. A hit in a second checkout must name
/// its own files, not the first checkout's.
#[test]
fn warnings_name_this_checkouts_files_on_a_hit_from_another() {
    let (sb, a) = regression_tree("#include \"w.h\"\n");
    fs::create_dir_all(a.join("inc")).unwrap();
    fs::write(a.join("inc/w.h"), "#warning \"careful\"\n").unwrap();
    let b = sb.path("other");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(ok.success());
    for ws in [&a, &b] {
        let inc = format!("-I{}/inc", ws.display());
        let src = format!("{}/src/main.c", ws.display());
        assert_like_gcc(&sb, ws, "", &["-c", &src, "-o", "o/main.o", &inc]);
    }
}

/// The reproduction: a `-D` value holding the package's path is
/// copied into the object as is, so the helper must not hash it by the
/// stable name (it rewrote machine directories in every argument): a
/// second checkout got the first one's path.
#[test]
fn helper_define_holding_the_checkout_path_is_not_shared() {
    let (sb, a) = regression_tree("const char *ws = WS;\n");
    let b = sb.path("other");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(ok.success());
    let spec = HelperSpec {
        lines: vec!["file src/main.c".into(), "define WS \"{ws}/data\"".into()],
        debug: false,
    };
    for ws in [&a, &b] {
        let got = helper_build(&sb, ws, &spec, true).unwrap();
        let want = helper_build(&sb, ws, &spec, false).unwrap();
        let got = got.expect("the cached build compiles");
        assert!(
            got == want.unwrap(),
            "{}: the helper's object differs from cc's",
            ws.display()
        );
    }
}

/// A symlink loop stops gcc's search with an error ("Too many levels of
/// symbolic links"); the probe took it for no file, so a result from
/// before the loop appeared was served where gcc fails.
#[test]
fn symlink_loop_where_a_header_was_absent() {
    let (sb, ws) = regression_tree("#if __has_include(\"p.h\")\n#include \"p.h\"\n#endif\n");
    fs::create_dir_all(ws.join("inc")).unwrap();
    let args = ["-c", "src/main.c", "-o", "o/main.o", "-Iinc"];
    assert_like_gcc(&sb, &ws, "", &args);
    std::os::unix::fs::symlink("p.h", ws.join("inc/p.h")).unwrap();
    assert_like_gcc(&sb, &ws, "", &args);
    settle();
    assert_like_gcc(&sb, &ws, "", &args);
}

/// gcc leaves a `CPATH` directory that does not exist out of its search
/// list (and out of `-v`'s), so the probes did not cover it: a header
/// made there later, which gcc then finds first, was missed.
#[test]
fn cpath_directory_that_appears_after_the_first_compile() {
    let (sb, ws) = regression_tree("#include <b.h>\n");
    fs::create_dir_all(ws.join("s")).unwrap();
    fs::write(ws.join("s/b.h"), "int from_s;\n").unwrap();
    let args = ["-c", "src/main.c", "-o", "o/main.o", "-isystem", "s"];
    assert_like_gcc_env(&sb, &ws, "", &args, true);
    fs::create_dir_all(ws.join("cp")).unwrap();
    fs::write(ws.join("cp/b.h"), "int from_cp;\n").unwrap();
    assert_like_gcc_env(&sb, &ws, "", &args, true);
}
