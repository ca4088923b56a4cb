//! `cargo gocache`: Go's build cache for the whole cargo build. Every C and
//! C++ compile a build script makes (cc, CMake, configure + make) and every
//! rustc invocation is looked up first; after `cargo clean`, on a fresh CI
//! runner or in a second checkout, that work is not done again.
//!
//! This crate is the tool: the command line, the wrappers, the engine and
//! the remotes. It is a library only so that its tests and benchmarks can
//! reach the engine; **it has no API stability**, and its one user is the
//! `cargo-gocache` binary. What a user's build script compiles is the small
//! `gocache-build` crate (`build-support/`), a client of this binary.
//!
//! Three modes, chosen by the first argument: gocache's own commands
//! (`gocache`, or a subcommand name such as `stats`); the compiler wrapper
//! (`cargo-gocache gcc -c a.c`, as `ccache gcc ...`, and
//! `cargo-gocache rustc ...` as `RUSTC_WRAPPER`); and the archiver wrapper
//! (`cargo-gocache ar cq libfoo.a ...`, for any `ar` or `*-ar`), which
//! stamps build IDs (see [`wrapper::ar`]).
//!
//! The rooms (`ARCHITECTURE.md` has the map and what each may not use):
//! the front (`cli`, `commands`, `runner`), the wrappers
//! (`wrapper`), and the engine they share: [`store`], [`key`],
//! [`direct`] (manifests), [`cmdline`] (C command lines), [`archive`]
//! (build IDs), [`stats`] (events and `explain` records), [`run`],
//! [`env`], [`settings`], [`trust`] (which builds write to a remote),
//! [`version`]; the [`remote`] tier sits beside the store.
//!
//! Exit codes: 0 success; 1 an error (printed once as `error: ...`);
//! 2 bad usage (from clap). In wrapper mode, the compiler's own exit code.

// The front: argument parsing, commands, the cargo runner.
mod cli;
mod commands;
mod runner;
// One process per wrapped tool run.
mod wrapper;

// The engine, shared by the wrappers and the commands. `pub` for the
// testsuite and the benchmarks, not an API.
pub mod archive;
pub mod cmdline;
pub mod config;
pub mod direct;
pub mod env;
pub mod error;
pub mod fsutil;
pub mod human;
pub mod key;
pub mod observe;
pub mod remote;
pub mod run;
pub mod settings;
pub mod stats;
pub mod store;
pub mod trust;
pub mod version;

pub use key::hash::{ActionId, KeyHasher, OutputId};
pub use store::{Entry, Store, Tier, TierKey, TrimPolicy};

// The archiver wrapper's entry points, used by the testsuite.
pub use wrapper::ar;

/// Run with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    // Started by cargo as a build script: the launcher
    // (`wrapper::buildscript`), before anything touches the environment.
    if let Some(argv0) = std::env::args_os().next() {
        if let Some(real) = wrapper::buildscript::launched_as(&argv0) {
            let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            return wrapper::buildscript::run(real, &args);
        }
    }
    // Under `cargo gocache`, before anything runs: PATH without the
    // masquerade links, and a start through one of them as the wrapper.
    let args = match wrapper::masquerade::enter(std::env::args_os().collect()) {
        wrapper::masquerade::Start::Args(args) => args,
        wrapper::masquerade::Start::Exit(code) => return code,
    };
    // Run as `gocache-ar REAL_AR ARGS...` (the archiver under `cargo gocache`).
    if args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == ar::AR_NAME)
    {
        return ar::run(&args[1..]);
    }
    let result = match cli::parse(args) {
        cli::Job::Command(parsed) => {
            // Only for gocache's own output: a wrapper's stdout is the
            // compiler's, and it is passed through as it is.
            #[cfg(unix)]
            // SAFETY: setting a signal disposition to its default, before
            // any thread is started.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            }
            commands::run(parsed.command, parsed.verify)
        }
        cli::Job::Archiver(args) => Ok(ar::run(&args)),
        // `RUSTC_WRAPPER`: cargo runs `cargo-gocache <rustc> ARGS`.
        cli::Job::Compiler(args) if wrapper::rust::is_rustc(&args) => Ok(wrapper::rust::run(args)),
        cli::Job::Compiler(args) => Ok(wrapper::cc::run(args)),
        cli::Job::Exit(code) => Ok(code),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// Numbers below `n`, from `seed` (xorshift, so that a failing seed
    /// reruns as it was).
    pub(crate) fn picker(seed: u64) -> impl FnMut(usize) -> usize {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        }
    }

    /// A tree of random directories, files and symlinks (dangling or
    /// not) under `root`, for tests of what `stat` answers. What it makes
    /// or removes is named without `..`, so it stays inside `root` (a
    /// test of this kind once removed `/tmp` and `/etc` by a name with
    /// `..` in it); names it gives to look at may hold one.
    pub(crate) struct RandomTree {
        pub(crate) root: std::path::PathBuf,
    }

    impl RandomTree {
        const NAMES: &[&str] = &["a", "b", "c.h", "..", "d"];

        /// A name below `root`, of one to four components.
        pub(crate) fn path(
            &self,
            next: &mut dyn FnMut(usize) -> usize,
            dotdot: bool,
        ) -> std::path::PathBuf {
            let mut p = self.root.clone();
            for _ in 0..1 + next(4) {
                let n = Self::NAMES[next(Self::NAMES.len())];
                p.push(if n == ".." && !dotdot { "e" } else { n });
            }
            p
        }

        /// Make a random thing at `p` (its directory made first if it can be).
        pub(crate) fn make(&self, p: &std::path::Path, next: &mut dyn FnMut(usize) -> usize) {
            use std::fs;
            assert!(!p.components().any(|c| c == std::path::Component::ParentDir));
            let _ = fs::create_dir_all(p.parent().unwrap());
            let _ = match next(5) {
                0 | 1 => fs::create_dir(p),
                2 => fs::write(p, format!("{}", next(3))),
                3 => std::os::unix::fs::symlink(self.root.join("a"), p),
                _ => std::os::unix::fs::symlink(self.root.join("gone"), p),
            };
        }

        /// Remove or make a random name (never `root` or above it).
        pub(crate) fn change(&self, next: &mut dyn FnMut(usize) -> usize) {
            let p = self.path(next, false);
            if next(2) == 0 {
                assert!(p.starts_with(&self.root) && p != self.root);
                let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
            } else {
                self.make(&p, next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Every module (a file; `wrapper::rust`'s files are one) and the
    /// modules its non-test code names through `crate::`.
    fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let name = |p: &Path| {
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let m = rel.to_string_lossy().replace('/', "::");
            m.strip_suffix("::mod").map(str::to_string).unwrap_or(m)
        };
        let node = |m: &str| {
            if m.starts_with("wrapper::rust") {
                "wrapper::rust".to_string()
            } else {
                m.to_string()
            }
        };
        let modules: BTreeSet<String> = files.iter().map(|p| name(p)).collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &files {
            let m = name(p);
            if m == "lib" || m == "main" {
                continue;
            }
            let text = std::fs::read_to_string(p).unwrap();
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
            let mut deps = BTreeSet::new();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    // `crate::a::b::Item`, or `crate::a::{b, c::D}`.
                    let (head, group) = match rest.find('{') {
                        Some(b)
                            if rest[..b]
                                .chars()
                                .all(|c| c.is_alphanumeric() || c == '_' || c == ':') =>
                        {
                            let end = rest[b..].find('}').map_or(rest.len(), |e| b + e);
                            (&rest[..b], Some(&rest[b + 1..end]))
                        }
                        _ => (rest, None),
                    };
                    let paths: Vec<String> = match group {
                        Some(g) => g
                            .split(',')
                            .map(|x| format!("{head}{}", x.trim()))
                            .collect(),
                        None => vec![head.to_string()],
                    };
                    for path in paths {
                        let path: String = path
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                            .collect();
                        let parts: Vec<&str> = path.split("::").collect();
                        if let Some(found) = (1..=parts.len())
                            .rev()
                            .map(|k| parts[..k].join("::"))
                            .find(|c| modules.contains(c))
                        {
                            deps.insert(node(&found));
                        }
                    }
                }
            }
            let n = node(&m);
            deps.remove(&n);
            graph.entry(n).or_default().extend(deps);
        }
        graph
    }

    /// No module cycle: the engine's modules form layers (the store below
    /// the keys, direct mode and stats; `run` below the store), and so do
    /// the front's rooms.
    #[test]
    fn no_module_cycle() {
        let graph = module_graph();
        fn visit(
            n: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if let Some(i) = path.iter().position(|p| p == n) {
                panic!("module cycle: {} -> {n}", path[i..].join(" -> "));
            }
            if !done.insert(n.to_string()) {
                return;
            }
            path.push(n.to_string());
            for d in graph.get(n).into_iter().flatten() {
                visit(d, graph, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for n in graph.keys() {
            visit(n, &graph, &mut Vec::new(), &mut done);
        }
        assert!(
            graph["wrapper::cc"].contains("store"),
            "the check sees uses"
        );
    }

    /// What each room may not use (ARCHITECTURE.md's code map).
    #[test]
    fn rooms_keep_their_boundaries() {
        let front = ["cli", "commands", "runner", "wrapper", "remote"];
        let rules: &[(&str, &[&str])] = &[
            ("cli", &["commands", "runner", "wrapper", "remote"]),
            ("commands", &["wrapper"]),
            ("runner", &["commands", "cli"]),
            ("wrapper", &["commands", "runner", "cli"]),
            ("remote", &["commands", "runner", "cli", "wrapper"]),
        ];
        let room = |m: &str| m.split("::").next().unwrap().to_string();
        for (m, deps) in module_graph() {
            let r = room(&m);
            let banned: Vec<&str> = match rules.iter().find(|(name, _)| *name == r) {
                Some((_, banned)) => banned.to_vec(),
                // The engine uses no room of the front.
                None => front.to_vec(),
            };
            for d in deps {
                assert!(!banned.contains(&room(&d).as_str()), "{m} uses {d}");
            }
        }
    }
}
