//! Issue 5 end to end: `explain`, `--verify`, configuration errors,
//! `export`/`import`, `env` and the end summary, through real cargo and gcc
//! on small temp crates whose build.rs compiles C with `cc`.
//!
//! The crates share one target directory (`CARGO_TARGET_TMPDIR`), so `cc`
//! and its dependencies are compiled once for the module, not per test;
//! only the export test, which runs `cargo clean`, has its own.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{archives, cargo, example, gocache, run, Run};

/// A crate whose build.rs compiles `sources` (in `src/`, `a.c` includes
/// `include/x.h`) into one static library with `cc`.
///
/// The warning flags are set explicitly: left to its default, cc drops
/// `-Wall -Wextra` when `CFLAGS` is set, and `explain` rightly reports them
/// removed along with the flag `CFLAGS` adds.
struct Demo {
    tmp: tempfile::TempDir,
    name: String,
    ws: PathBuf,
    store: PathBuf,
    target: PathBuf,
}

impl Demo {
    fn new(name: &str, sources: &[&str], own_target: bool) -> Demo {
        let tmp = tempfile::Builder::new()
            .prefix("gocache-ci-explain-")
            .tempdir()
            .unwrap();
        let ws = tmp.path().join(name);
        let target = if own_target {
            tmp.path().join("target")
        } else {
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ci_explain-target")
        };
        let d = Demo {
            name: name.to_string(),
            store: tmp.path().join("store"),
            ws,
            target,
            tmp,
        };
        d.write(
            "Cargo.toml",
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [workspace]\n\n[build-dependencies]\ncc = \"1.2\"\n"
            ),
        );
        // The example's lock pins cc and its dependencies, which the
        // user's CARGO_HOME already has; cargo drops what this crate lacks.
        fs::copy(
            example("mixed-sys").join("Cargo.lock"),
            d.ws.join("Cargo.lock"),
        )
        .unwrap();
        let files: Vec<String> = sources.iter().map(|s| format!("\"src/{s}\"")).collect();
        d.write(
            "build.rs",
            &format!(
                "fn main() {{\n\
                 \x20   println!(\"cargo:rerun-if-changed=src\");\n\
                 \x20   println!(\"cargo:rerun-if-changed=include\");\n\
                 \x20   cc::Build::new()\n\
                 \x20       .warnings(true)\n\
                 \x20       .extra_warnings(true)\n\
                 \x20       .include(\"include\")\n\
                 \x20       .files([{}])\n\
                 \x20       .compile(\"demo\");\n\
                 }}\n",
                files.join(", ")
            ),
        );
        d.write("include/x.h", "#define X 1\n");
        for (i, s) in sources.iter().enumerate() {
            let f = s.trim_end_matches(".c");
            let text = if *s == "a.c" {
                "#include \"x.h\"\nint a(void) { return X; }\n".to_string()
            } else {
                format!("int {f}(void) {{ return {i}; }}\n")
            };
            d.write(&format!("src/{s}"), &text);
        }
        d.write("src/lib.rs", "pub fn nothing() {}\n");
        d
    }

    /// Write `text` to `rel` in the crate, then wait a moment: a file
    /// modified during a compile is not cached, and cargo compares mtimes.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.ws.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        path
    }

    /// An executable script in the temp dir (outside the crate).
    fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.tmp.path().join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The user config directory (`XDG_CONFIG_HOME`) every command gets, so
    /// that the real user's file never counts.
    fn xdg(&self) -> PathBuf {
        self.tmp.path().join("xdg")
    }

    /// `cargo-gocache gocache <args>` in the crate, with its store, target
    /// directory and user config directory.
    fn gocache(&self, args: &[&str]) -> Command {
        self.gocache_with(&self.store, args)
    }

    fn gocache_with(&self, store: &Path, args: &[&str]) -> Command {
        let mut cmd = gocache(store);
        cmd.arg("gocache")
            .args(args)
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("XDG_CONFIG_HOME", self.xdg());
        cmd
    }

    /// `cargo gocache build` with `env` added; it must succeed.
    #[track_caller]
    fn build(&self, env: &[(&str, &str)]) -> Run {
        self.build_with(&self.store, env)
    }

    #[track_caller]
    fn build_with(&self, store: &Path, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.gocache_with(store, &["build", "--offline"]);
        cmd.envs(env.iter().copied());
        run(&mut cmd).success()
    }

    /// `cargo gocache explain [pattern]`, parsed: its C misses. The Rust
    /// ones (`rustc cc@1.2.x ...`) are there only when the shared target
    /// directory had yet to build `cc`, which depends on the tests run
    /// before; each is checked for its name.
    #[track_caller]
    fn explain(&self, pattern: Option<&str>) -> (Run, Vec<Explained>) {
        let mut cmd = self.gocache(&["explain"]);
        cmd.args(pattern);
        let r = run(&mut cmd).success();
        let (c, rust): (Vec<Explained>, Vec<Explained>) = explained(&r.stdout())
            .into_iter()
            .partition(|m| m.object.starts_with("compile "));
        for m in &rust {
            assert!(
                m.object.starts_with("rustc ") && m.object.contains('@'),
                "a miss that is neither a C compile nor a named rustc one:\n{}",
                r.stdout()
            );
        }
        (r, c)
    }

    /// `cargo clean -p <crate>`: its build script runs again next build;
    /// the shared `cc` stays built.
    fn clean_package(&self) {
        run(cargo()
            .args(["clean", "--offline", "-p", &self.name])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target))
        .success();
    }
}

/// The shared target directory keeps no crate of a finished test: each run
/// has new temp paths, so new artifacts that would otherwise pile up.
impl Drop for Demo {
    fn drop(&mut self) {
        if self.target.starts_with(self.tmp.path()) {
            return; // its own, removed with the temp dir
        }
        let _ = cargo()
            .args(["clean", "--offline", "--quiet", "-p", &self.name])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target)
            .output();
    }
}

/// One miss as `explain` prints it: the object and its change lines.
#[derive(Debug)]
struct Explained {
    object: String,
    /// Why the lookup missed (`lookup: ...`), as the wrapper recorded it.
    lookup: Option<String>,
    changes: Vec<String>,
}

fn explained(stdout: &str) -> Vec<Explained> {
    let mut out: Vec<Explained> = Vec::new();
    for line in stdout.lines() {
        if let Some(object) = line.strip_prefix("miss: ") {
            out.push(Explained {
                object: object.to_string(),
                lookup: None,
                changes: Vec::new(),
            });
        } else if let Some(why) = line.strip_prefix("    lookup: ") {
            out.last_mut()
                .unwrap_or_else(|| panic!("a lookup line before any miss:\n{stdout}"))
                .lookup = Some(why.to_string());
        } else if let Some(change) = line.strip_prefix("    ") {
            out.last_mut()
                .unwrap_or_else(|| panic!("a change line before any miss:\n{stdout}"))
                .changes
                .push(change.to_string());
        }
    }
    out
}

/// The one explained miss whose object names `source`.
#[track_caller]
fn only_miss<'a>(r: &Run, misses: &'a [Explained], source: &str) -> &'a Explained {
    match misses {
        [m] if m.object.contains(source) => m,
        _ => panic!(
            "expected exactly one miss, of {source}\n--- stdout\n{}",
            r.stdout()
        ),
    }
}

/// `gocache: H hits, M misses` from the build's summary line.
#[track_caller]
fn hits_misses(build: &Run) -> (u64, u64) {
    let stderr = build.stderr();
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("gocache: "))
        .filter(|l| l.contains(" hit"))
        .unwrap_or_else(|| panic!("no summary line:\n{stderr}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .take(2)
        .collect();
    (n[0], n[1])
}

/// A compiler that is gcc but says it is another version: a wrapper script
/// as a toolchain manager would install.
const MYCC: &str = "#!/bin/sh\n\
case \"$*\" in *--version*) echo 'mycc (GCC) 13.1.0'; exit 0;; esac\n\
exec gcc \"$@\"\n";

#[test]
fn explain_names_exactly_the_input_that_changed() {
    let d = Demo::new("explain_demo", &["a.c", "b.c"], false);

    // First build: every object is new.
    d.build(&[]);
    let (r, misses) = d.explain(None);
    assert_eq!(misses.len(), 2, "{}", r.stdout());
    for m in &misses {
        assert_eq!(
            m.changes,
            ["first build of this object (nothing earlier in the cache)"],
            "{}",
            r.stdout()
        );
        assert_eq!(m.lookup.as_deref(), Some("no entry for these inputs"));
    }

    // A header edit: only a.c misses, for that header.
    d.write("include/x.h", "#define X 2\n");
    let b = d.build(&[]);
    assert_eq!(hits_misses(&b), (1, 1), "{}", b.stderr());
    let (r, misses) = d.explain(None);
    let m = only_miss(&r, &misses, "a.c");
    assert_eq!(m.changes.len(), 1, "{}", r.stdout());
    // The lookup says why itself: the manifest was there, no header set held.
    assert_eq!(
        m.lookup.as_deref(),
        Some("no header set of these inputs matched"),
        "{}",
        r.stdout()
    );
    assert!(
        m.changes[0].ends_with("include/x.h: content changed"),
        "{}",
        r.stdout()
    );

    // A flag through CFLAGS: both miss, each for that flag alone.
    d.build(&[("CFLAGS", "-DFOO")]);
    let (r, misses) = d.explain(None);
    assert_eq!(misses.len(), 2, "{}", r.stdout());
    for m in &misses {
        assert_eq!(m.changes, ["flag -DFOO added"], "{}", r.stdout());
        assert_eq!(m.lookup.as_deref(), Some("no entry for these inputs"));
    }
    // PATTERN filters by source.
    let (r, misses) = d.explain(Some("b.c"));
    assert_eq!(only_miss(&r, &misses, "b.c").changes, ["flag -DFOO added"]);
    let (r, misses) = d.explain(Some("no-such-source"));
    assert!(misses.is_empty(), "{}", r.stdout());
    assert!(
        r.stdout().contains("no misses matching \"no-such-source\""),
        "{}",
        r.stdout()
    );

    // Another compiler through CC (and CFLAGS back as it was): the
    // nearest earlier build differs in the compiler only.
    let mycc = d.script("mycc", MYCC);
    d.build(&[("CC", mycc.to_str().unwrap())]);
    let (r, misses) = d.explain(None);
    assert_eq!(misses.len(), 2, "{}", r.stdout());
    for m in &misses {
        assert_eq!(m.changes.len(), 1, "{}", r.stdout());
        let c = &m.changes[0];
        assert!(
            c.starts_with("compiler ") && c.ends_with(" -> mycc (GCC) 13.1.0"),
            "{}",
            r.stdout()
        );
    }
}

/// A "compiler" that is gcc, except that every object it writes ends in
/// random bytes: the same inputs never give the same output. cc's own
/// probes (`-E` for the compiler family) and the wrapper's (`--version`,
/// `-v`) get gcc's answers.
const RANDOM_CC: &str = "#!/bin/sh\n\
gcc \"$@\" || exit $?\n\
case \" $* \" in *\" -c \"*) ;; *) exit 0;; esac\n\
out=''; prev=''\n\
for a in \"$@\"; do [ \"$prev\" = -o ] && out=\"$a\"; prev=\"$a\"; done\n\
case \"$out\" in *.o) head -c 16 /dev/urandom >> \"$out\";; esac\n\
exit 0\n";

#[test]
fn verify_through_cargo_catches_a_nondeterministic_compiler() {
    let d = Demo::new("verify_demo", &["a.c"], false);
    let randcc = d.script("randcc", RANDOM_CC);
    let randcc = randcc.to_str().unwrap();

    // gcc is deterministic: a verified rebuild of hits passes.
    d.build(&[]);
    d.clean_package();
    let b = d.build_with(&d.store, &[("CARGO_GOCACHE_VERIFY", "1")]);
    assert_eq!(hits_misses(&b), (1, 0), "{}", b.stderr());
    assert!(!b.stderr().contains("nondeterministic"), "{}", b.stderr());
    d.clean_package();
    let mut cmd = d.gocache(&["--verify", "build", "--offline"]);
    let b = run(&mut cmd).success();
    assert!(!b.stderr().contains("nondeterministic"), "{}", b.stderr());

    // The random compiler: cached once, then every verified hit differs.
    d.build(&[("CC", randcc)]);
    d.clean_package();
    let mut cmd = d.gocache(&["--verify", "build", "--offline"]);
    cmd.env("CC", randcc);
    let b = run(&mut cmd);
    assert!(
        !b.status.success(),
        "--verify passed a nondeterministic compile:\n{}",
        b.stderr()
    );
    b.stderr_contains("--verify found 1 nondeterministic result");
    // Named by gocache itself, not only in the build script's warnings
    // (which cargo shows for local crates only).
    assert!(
        b.stderr()
            .lines()
            .any(|l| l.starts_with("gocache: nondeterministic:")
                && l.contains("/src/a.c -> ")
                && l.contains("-a.o: ")),
        "the object is not named:\n{}",
        b.stderr()
    );
}

/// The user file, `[workspace.metadata.gocache]` and `CARGO_GOCACHE_*`:
/// each unknown key and bad value stops `config` and `build` with one
/// `error:` line naming where, what, and what is allowed.
#[test]
fn bad_configuration_is_one_error_naming_where_and_what() {
    let d = Demo::new("config_demo", &["a.c"], false);
    let user_file = d.xdg().join("cargo-gocache").join("config.toml");
    let manifest = d.ws.join("Cargo.toml");
    let manifest_text = fs::read_to_string(&manifest).unwrap();
    let set_user = |text: Option<&str>| match text {
        Some(t) => {
            fs::create_dir_all(user_file.parent().unwrap()).unwrap();
            fs::write(&user_file, t).unwrap();
        }
        None => {
            let _ = fs::remove_file(&user_file);
        }
    };
    let set_workspace = |text: Option<&str>| {
        let extra = text.map_or(String::new(), |t| {
            format!("\n[workspace.metadata.gocache]\n{t}")
        });
        fs::write(
            &manifest,
            manifest_text.replace("[workspace]\n", &format!("[workspace]\n{extra}\n")),
        )
        .unwrap();
    };
    let file = user_file.to_str().unwrap().to_string();
    let ws_file = manifest.to_str().unwrap().to_string();

    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<(&'a str, &'a str)>,
    );
    let cases: &[(Case, &[&str])] = &[
        (
            (
                "user file, unknown key",
                Some("max-sise = \"1G\"\n"),
                None,
                None,
            ),
            &[&file, "max-sise", "max-size"],
        ),
        (
            (
                "user file, bad size",
                Some("max-size = \"lots\"\n"),
                None,
                None,
            ),
            &[&file, "max-size", "lots", "500M"],
        ),
        (
            (
                "user file, bad type",
                Some("verify = \"maybe\"\n"),
                None,
                None,
            ),
            &[&file, "verify", "boolean"],
        ),
        (
            (
                "workspace, unknown key",
                None,
                Some("remote-timout = \"3s\"\n"),
                None,
            ),
            &[&ws_file, "remote-timout", "remote-timeout"],
        ),
        (
            (
                "workspace, bad duration",
                None,
                Some("max-age = \"soon\"\n"),
                None,
            ),
            &[&ws_file, "max-age", "soon", "7d"],
        ),
        (
            (
                "env, bad value",
                None,
                None,
                Some(("CARGO_GOCACHE_MAX_SIZE", "lots")),
            ),
            &["CARGO_GOCACHE_MAX_SIZE", "lots", "500M"],
        ),
        (
            (
                "env, bad boolean",
                None,
                None,
                Some(("CARGO_GOCACHE_VERIFY", "maybe")),
            ),
            &["CARGO_GOCACHE_VERIFY", "maybe", "true/false"],
        ),
        (
            (
                "env, unknown variable",
                None,
                None,
                Some(("CARGO_GOCACHE_MAX_SIZ", "1G")),
            ),
            &["CARGO_GOCACHE_MAX_SIZ", "CARGO_GOCACHE_MAX_SIZE"],
        ),
    ];
    for ((what, user, ws, env), needles) in cases {
        set_user(*user);
        set_workspace(*ws);
        for args in [&["config"][..], &["build", "--offline"][..]] {
            let mut cmd = d.gocache(args);
            cmd.envs(env.iter().copied());
            let r = run(&mut cmd);
            let errors: Vec<String> = r
                .stderr()
                .lines()
                .filter(|l| l.starts_with("error:"))
                .map(str::to_string)
                .collect();
            assert!(
                !r.status.success() && errors.len() == 1,
                "{what}: `{}` did not fail with one error line:\n{}",
                args.join(" "),
                r.stderr()
            );
            for needle in *needles {
                assert!(
                    errors[0].contains(needle),
                    "{what}: `{}`: the error lacks {needle:?}:\n{}",
                    args.join(" "),
                    errors[0]
                );
            }
            assert!(
                !r.stderr().contains("Compiling"),
                "{what}: cargo ran:\n{}",
                r.stderr()
            );
        }
    }

    // Precedence: default < user file < workspace < environment, and
    // `config` names each value's source.
    set_user(Some(
        "max-size = \"1G\"\nremote-timeout = \"5s\"\nmax-age = \"1d\"\n",
    ));
    set_workspace(Some("max-size = \"2G\"\nmax-age = \"3d\"\n"));
    let mut cmd = d.gocache(&["config"]);
    cmd.env("CARGO_GOCACHE_MAX_AGE", "4d");
    let r = run(&mut cmd).success();
    assert!(
        r.stdout().starts_with(
            "# each source overrides the ones before it: default, user file, Cargo.toml, environment\n"
        ),
        "{}",
        r.stdout()
    );
    let rows: BTreeMap<String, (String, String)> = r
        .stdout()
        .lines()
        .filter_map(|l| {
            let (key, rest) = l.split_once('=')?;
            let (value, source) = rest.split_once('#')?;
            Some((
                key.trim().to_string(),
                (value.trim().to_string(), source.trim().to_string()),
            ))
        })
        .collect();
    let row = |k: &str| rows.get(k).cloned().unwrap_or_default();
    let expect = |k: &str, value: &str, source: &str| {
        assert_eq!(
            row(k),
            (value.to_string(), source.to_string()),
            "{k}\n{}",
            r.stdout()
        )
    };
    expect("max-size", "2G", &ws_file);
    expect("max-age", "4d", "environment CARGO_GOCACHE_MAX_AGE");
    expect("remote-timeout", "5s", &file);
    expect("verify", "false", "default");
    expect(
        "dir",
        d.store.to_str().unwrap(),
        "environment CARGO_GOCACHE_DIR",
    );
}

/// The bundle files `export` reports writing.
#[track_caller]
fn exported(r: &Run) -> u64 {
    r.stdout()
        .strip_prefix("exported ")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected export output: {}", r.stdout()))
}

#[test]
fn export_then_import_into_an_empty_store_hits_everything() {
    let d = Demo::new("export_demo", &["a.c", "b.c", "c.c"], true);
    // Entries of another build first, then the build to carry over.
    d.build(&[("CFLAGS", "-DOTHER")]);
    let cold = d.build(&[]);
    assert_eq!(hits_misses(&cold), (0, 3), "{}", cold.stderr());
    let cold_archives = archives(&d.target);
    assert!(
        cold_archives.keys().any(|k| k.ends_with("libdemo.a")),
        "{:?}",
        cold_archives.keys()
    );

    let full = d.tmp.path().join("full.tar.zst");
    let used = d.tmp.path().join("used.tar.zst");
    let all = exported(&run(&mut d.gocache(&["export", full.to_str().unwrap()])).success());
    let mut cmd = d.gocache(&["export", "--used-since-build", used.to_str().unwrap()]);
    let some = exported(&run(&mut cmd).success());
    assert!(
        0 < some && some < all,
        "--used-since-build exported {some} files of {all}"
    );

    for (i, (bundle, stage)) in [(&full, "full export"), (&used, "--used-since-build")]
        .into_iter()
        .enumerate()
    {
        // A new, empty store.
        let store = d.tmp.path().join(format!("store-{i}"));
        let r = run(&mut d.gocache_with(&store, &["import", bundle.to_str().unwrap()])).success();
        assert!(r.stdout().starts_with("imported "), "{}", r.stdout());
        run(cargo()
            .args(["clean", "--offline"])
            .current_dir(&d.ws)
            .env("CARGO_TARGET_DIR", &d.target))
        .success();
        let warm = d.build_with(&store, &[]);
        assert_eq!(hits_misses(&warm), (3, 0), "{stage}:\n{}", warm.stderr());
        let now = archives(&d.target);
        assert!(now == cold_archives, "{stage}: the archives differ");
    }

    // A file that is no bundle: one error line.
    let mut cmd = d.gocache(&["import", "Cargo.toml"]);
    let r = run(&mut cmd);
    assert!(!r.status.success(), "{}", r.stderr());
    let stderr = r.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert!(
        errors.len() == 1 && errors[0].contains("Cargo.toml"),
        "{stderr}"
    );
}

/// The CI flow on a fresh runner whose target directory was restored too
/// (as rust-cache does): the store is only what was imported, and the build
/// runs no compile, so no build has used this store. `export
/// --used-since-build` must still carry the cache forward, not fail the job
/// (regression: "no record of a last build ... run `cargo gocache build`
/// first", right after one).
#[test]
fn ci_flow_with_a_warm_target_dir_keeps_the_cache() {
    let d = Demo::new("warm_target_demo", &["a.c", "b.c"], true);
    d.build(&[]);
    let bundle = d.tmp.path().join("gocache.tar.zst");
    let bundle_arg = bundle.to_str().unwrap();
    let mut cmd = d.gocache(&["export", "--used-since-build", bundle_arg]);
    let first = exported(&run(&mut cmd).success());

    // The next job: the same store path, empty, then the bundle.
    fs::remove_dir_all(&d.store).unwrap();
    run(&mut d.gocache(&["import", bundle_arg])).success();
    let b = d.build(&[]);
    b.stderr_contains("gocache: no C/C++ compiles ran");
    let mut cmd = d.gocache(&["export", "--used-since-build", bundle_arg]);
    let r = run(&mut cmd).success();
    assert_eq!(exported(&r), first, "{}", r.stderr());

    // And the job after that sees the same cache.
    fs::remove_dir_all(&d.store).unwrap();
    run(&mut d.gocache(&["import", bundle_arg])).success();
    run(cargo()
        .args(["clean", "--offline", "-p", &d.name])
        .current_dir(&d.ws)
        .env("CARGO_TARGET_DIR", &d.target))
    .success();
    assert_eq!(hits_misses(&d.build(&[])), (2, 0));
}

/// A store with nothing in it exports a bundle with nothing in it, and
/// that bundle imports (a workspace without C, a cache just cleaned): the
/// next CI job must not fail on it.
#[test]
fn empty_bundle_round_trips() {
    let sb = crate::support::Sandbox::new();
    let bundle = sb.path("empty.tar.zst");
    let r = sb.gocache().arg("export").arg(&bundle).run();
    r.assert_success().stdout_contains("exported 0 files");
    let other = sb.path("other-store");
    sb.gocache()
        .arg("import")
        .arg(&bundle)
        .env("CARGO_GOCACHE_DIR", &other)
        .run()
        .assert_success()
        .stdout_contains("imported 0 files");
}

#[test]
fn env_key_follows_cargo_lock_and_nothing_else() {
    let d = Demo::new("env_demo", &["a.c"], false);
    let json = |d: &Demo| run(&mut d.gocache(&["env", "--json"])).success().stdout();
    let first = json(&d);
    assert_eq!(first, json(&d), "env --json differs between two runs");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    for field in ["dir", "key", "restore_key"] {
        assert!(v[field].is_string(), "no {field}: {first}");
    }

    let lock = d.ws.join("Cargo.lock");
    let mut text = fs::read_to_string(&lock).unwrap();
    text.push_str("\n# changed\n");
    fs::write(&lock, text).unwrap();
    let second: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
    assert_ne!(v["key"], second["key"], "the key ignores Cargo.lock");
    assert_eq!(v["restore_key"], second["restore_key"]);

    let r = run(&mut d.gocache(&["env", "--github"])).success();
    let out = r.stdout();
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key="))
        .unwrap_or_else(|| panic!("no key= line: {out}"));
    assert_eq!(Some(key), second["key"].as_str());
    assert!(out.lines().any(|l| l.starts_with("restore-key=")), "{out}");
}

#[test]
fn summary_names_at_most_five_slowest_misses() {
    let sources = ["a.c", "b.c", "c.c", "d.c", "e.c", "f.c", "g.c"];
    let d = Demo::new("summary_demo", &sources, false);
    let b = d.build(&[]);
    assert_eq!(hits_misses(&b), (0, 7), "{}", b.stderr());
    let stderr = b.stderr();
    let lines: Vec<&str> = stderr
        .lines()
        .skip_while(|l| *l != "gocache: slowest misses:")
        .collect();
    assert!(!lines.is_empty(), "no slowest misses:\n{stderr}");
    let listed: Vec<&str> = lines[1..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .copied()
        .collect();
    assert_eq!(listed.len(), 5, "{stderr}");
    for l in &listed {
        assert!(
            sources.iter().any(|s| l.ends_with(&format!("src/{s}"))),
            "{l}\n{stderr}"
        );
    }

    // No misses, no list.
    d.clean_package();
    let b = d.build(&[]);
    assert_eq!(hits_misses(&b), (7, 0), "{}", b.stderr());
    assert!(!b.stderr().contains("slowest misses"), "{}", b.stderr());
}
