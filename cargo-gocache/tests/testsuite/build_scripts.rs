//! Issue 24: build-script runs cached (`build-scripts = "cache"`), keyed by
//! what each run read. A hostile suite: every scenario builds a real cargo
//! project under `cargo gocache`, changes something the build script reads
//! without declaring it, and after `cargo clean` compares what the binary
//! prints with a plain cargo build of the same tree. A replay must equal a
//! fresh run, or the run must be refused with its reason; an unchanged tree
//! must be restored without running the script.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{cargo, copy_tree, example, gocache, require_tool, run, Run};

/// A one-package project `bs` whose build script runs `body` (which must
/// leave the value to print in `v: String`) and writes it to
/// `OUT_DIR/v.txt`; the binary prints it.
fn project(root: &Path, body: &str, build_deps: &str) -> PathBuf {
    let ws = root.join("ws");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[package]\nname = \"bs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [build-dependencies]\n{build_deps}\n"
        ),
    )
    .unwrap();
    fs::write(
        ws.join("build.rs"),
        format!(
            "#[allow(unused_imports)]\nuse std::process::Command;\n\
             fn main() {{\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n\
             {body}\n    std::fs::write(format!(\"{{out}}/v.txt\"), v).unwrap();\n}}\n"
        ),
    )
    .unwrap();
    fs::write(
        ws.join("src/main.rs"),
        "fn main() { print!(\"{}\", include_str!(concat!(env!(\"OUT_DIR\"), \"/v.txt\"))); }\n",
    )
    .unwrap();
    if !build_deps.is_empty() {
        // The example's lock pins cc (already in the user's CARGO_HOME).
        fs::copy(
            example("mixed-sys").join("Cargo.lock"),
            ws.join("Cargo.lock"),
        )
        .unwrap();
    }
    ws
}

fn write(ws: &Path, rel: &str, text: &str) {
    let p = ws.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    // A new mtime second: cargo and the stat memos see every edit.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    fs::write(p, text).unwrap();
}

/// `cargo gocache build` (build scripts cached) into `target`, after
/// removing it; the run and what the binary prints.
#[track_caller]
fn gocache_build(store: &Path, ws: &Path, target: &Path, env: &[(&str, &str)]) -> (Run, String) {
    let _ = fs::remove_dir_all(target);
    let mut cmd = gocache(store);
    cmd.args(["gocache", "build", "-v"])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_GOCACHE_BUILD_SCRIPTS", "cache");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd).success();
    let out = run(&mut Command::new(target.join("debug/bs"))).success();
    (r, out.stdout())
}

/// Plain cargo, in a fresh target directory: what a replay must equal.
#[track_caller]
fn plain_build(ws: &Path, target: &Path, env: &[(&str, &str)]) -> String {
    let _ = fs::remove_dir_all(target);
    let mut cmd = cargo();
    cmd.args(["build"])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd).success();
    run(&mut Command::new(target.join("debug/bs")))
        .success()
        .stdout()
}

/// The build-script part of the summary line: (restored, run, reasons).
#[track_caller]
fn scripts(r: &Run) -> (u64, u64, String) {
    let err = r.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("gocache: ") && l.contains("build scripts: "))
        .unwrap_or_else(|| panic!("no build-script summary in:\n{err}"));
    let part = line.split("build scripts: ").nth(1).unwrap();
    let restored: u64 = part.split(' ').next().unwrap().parse().unwrap();
    let ran: u64 = part
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let reasons = part
        .split_once('(')
        .map(|(_, r)| r.trim_end_matches(')').to_string())
        .unwrap_or_default();
    (restored, ran, reasons)
}

/// The scenario's course: build (stored), clean and build again
/// (restored, same output), `change` the tree, clean and build again: the
/// output equals plain cargo's of the changed tree, and the script ran.
#[track_caller]
fn replay_equals_a_fresh_run(
    body: &str,
    build_deps: &str,
    setup: impl Fn(&Path),
    change: impl Fn(&Path),
    env: impl Fn(bool) -> Vec<(String, String)>,
) {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), body, build_deps);
    setup(&ws);
    let (target, fresh) = (d.path().join("t"), d.path().join("fresh"));
    let envs = |after: bool| env(after);
    let before: Vec<(String, String)> = envs(false);
    let before: Vec<(&str, &str)> = before
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (r, first) = gocache_build(&store, &ws, &target, &before);
    assert_eq!(scripts(&r).0, 0, "{}", r.stderr());
    assert_eq!(first, plain_build(&ws, &fresh, &before));
    let (r, again) = gocache_build(&store, &ws, &target, &before);
    assert_eq!(
        scripts(&r),
        (1, 0, String::new()),
        "not restored:\n{}",
        r.stderr()
    );
    assert_eq!(again, first);
    change(&ws);
    let after: Vec<(String, String)> = envs(true);
    let after: Vec<(&str, &str)> = after
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (r, replayed) = gocache_build(&store, &ws, &target, &after);
    let plain = plain_build(&ws, &fresh, &after);
    assert_eq!(replayed, plain, "a stale run was replayed:\n{}", r.stderr());
    assert_ne!(
        plain, first,
        "the change must change the output (the test's own check)"
    );
    assert_eq!(
        scripts(&r).0,
        0,
        "restored after the change:\n{}",
        r.stderr()
    );
}

fn no_env(_: bool) -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn an_undeclared_file_read() {
    replay_equals_a_fresh_run(
        "let v = std::fs::read_to_string(\"data.txt\").unwrap();",
        "",
        |ws| write(ws, "data.txt", "one"),
        |ws| write(ws, "data.txt", "two"),
        no_env,
    );
}

#[test]
fn an_undeclared_environment_variable() {
    replay_equals_a_fresh_run(
        "let v = std::env::var(\"BS_KNOB\").unwrap_or_default();",
        "",
        |_| {},
        |_| {},
        |after| vec![("BS_KNOB".into(), if after { "b" } else { "a" }.into())],
    );
}

/// A CI variable's value is not in the pre-key (it changes every run), but
/// a run whose output holds it, here as a short commit hash, keys it.
#[test]
fn a_ci_commit_the_script_embeds_short() {
    let sha = |c: char| std::iter::repeat_n(c, 40).collect::<String>();
    replay_equals_a_fresh_run(
        "let s = std::env::var(\"GITHUB_SHA\").unwrap_or_default(); let v = s[..7.min(s.len())].to_string();",
        "",
        |_| {},
        |_| {},
        move |after| vec![("GITHUB_SHA".into(), sha(if after { 'b' } else { 'a' }))],
    );
}

/// The shell's depth and a CI run's identifiers change with every terminal
/// and every CI run: a run that does not use them is restored across them.
#[test]
fn session_and_ci_run_variables_do_not_run_a_script_again() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), "let v = String::from(\"same\");", "");
    let target = d.path().join("t");
    let (r, first) = gocache_build(
        &store,
        &ws,
        &target,
        &[
            ("SHLVL", "1"),
            ("GITHUB_RUN_ID", "11111111"),
            ("OLDPWD", "/a"),
        ],
    );
    assert_eq!(scripts(&r).1, 1, "{}", r.stderr());
    let (r, again) = gocache_build(
        &store,
        &ws,
        &target,
        &[
            ("SHLVL", "3"),
            ("GITHUB_RUN_ID", "22222222"),
            ("OLDPWD", "/b"),
        ],
    );
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
    assert_eq!(again, first);
}

/// `cd` from the checkout, then `cd` back: `OLDPWD` is the checkout, whose
/// path the script's output holds for its own sake. The next build, started
/// from elsewhere, restores the run.
#[test]
fn oldpwd_naming_the_checkout_does_not_run_a_script_again() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let v = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap();",
        "",
    );
    let target = d.path().join("t");
    let here = ws.display().to_string();
    let (r, first) = gocache_build(&store, &ws, &target, &[("OLDPWD", &here)]);
    assert_eq!(scripts(&r).1, 1, "{}", r.stderr());
    assert_eq!(first, here);
    let (r, again) = gocache_build(&store, &ws, &target, &[("OLDPWD", "/elsewhere")]);
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
    assert_eq!(again, first);
}

/// cc prints the `CC` it found, which under `cargo gocache` names
/// gocache's own binary (`CC_x86_64-unknown-linux-gnu = Some(/home/u/.cargo/
/// bin/cargo-gocache cc)`). A user who came from a directory above that
/// binary (their home) has it in `OLDPWD`: the next build, entered from
/// elsewhere (or a second checkout), must still restore the run, as `CC`
/// itself is keyed as it is. (Found at first, every cc build script ran
/// again in a second checkout entered from the first.)
#[test]
fn oldpwd_above_gocaches_own_binary_does_not_run_a_script_again() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "for (k, val) in std::env::vars() { if k.starts_with(\"CC_\") { \
         println!(\"{k} = Some({val})\"); } } let v = String::from(\"same\");",
        "",
    );
    let target = d.path().join("t");
    let above = crate::support::bin()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .display()
        .to_string();
    let (r, first) = gocache_build(&store, &ws, &target, &[("OLDPWD", &above)]);
    assert_eq!(scripts(&r).1, 1, "{}", r.stderr());
    let printed = fs::read_dir(target.join("debug/build"))
        .unwrap()
        .filter_map(|e| fs::read_to_string(e.unwrap().path().join("output")).ok())
        .find(|o| o.contains("CC_"))
        .expect("the script's output");
    assert!(
        printed.contains(&above),
        "the test needs the printed CC to hold OLDPWD: {printed}"
    );
    let (r, again) = gocache_build(&store, &ws, &target, &[("OLDPWD", "/elsewhere")]);
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
    assert_eq!(again, first);
}

#[test]
fn a_directory_listing_that_gains_a_file() {
    replay_equals_a_fresh_run(
        "let mut n: Vec<String> = std::fs::read_dir(\"assets\").unwrap()\
         .map(|e| e.unwrap().file_name().into_string().unwrap()).collect(); n.sort(); let v = n.join(\",\");",
        "",
        |ws| write(ws, "assets/a.txt", ""),
        |ws| write(ws, "assets/b.txt", ""),
        no_env,
    );
}

#[test]
fn a_file_read_by_a_shell_the_script_runs() {
    replay_equals_a_fresh_run(
        "let o = Command::new(\"sh\").args([\"-c\", \"cat conf/*.conf\"]).output().unwrap(); \
         let v = String::from_utf8(o.stdout).unwrap();",
        "",
        |ws| write(ws, "conf/a.conf", "a"),
        |ws| write(ws, "conf/a.conf", "changed"),
        no_env,
    );
}

/// A `pkg-config` found first on `PATH` whose answer changes (its `.pc`
/// data upgraded): the script never declares it.
#[test]
fn a_pkg_config_on_path_whose_answer_changes() {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let pc = bin.join("pkg-config");
    let data = d.path().join("foo.pc");
    fs::write(&pc, format!("#!/bin/sh\ncat '{}'\n", data.display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&pc, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::write(&data, "-I/usr/include/foo-1").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    replay_equals_a_fresh_run(
        "let o = Command::new(\"pkg-config\").args([\"--cflags\", \"foo\"]).output().unwrap(); \
         let v = String::from_utf8(o.stdout).unwrap();",
        "",
        |_| {},
        |_| write(d.path(), "foo.pc", "-I/usr/include/foo-2"),
        |_| vec![("PATH".into(), path.clone())],
    );
}

/// A unix socket the script tries: absent on the first runs (the failed
/// `connect` is keyed as a probe of its path, so the run is stored and
/// restored), then a server listens there: the lookup must miss and the run,
/// now talking to a server, is refused. `whoami` asks glibc, which first
/// tries `/var/run/nscd/socket` (absent on most machines): never a refusal.
#[test]
fn a_unix_socket_that_starts_listening() {
    replay_equals_a_fresh_run(
        "let who = Command::new(\"whoami\").output().map(|o| o.status.success()).unwrap_or(false); \
         let c = std::os::unix::net::UnixStream::connect(\"sock\").is_ok(); \
         let v = format!(\"connected={c} whoami-ran={}\", who || !who);",
        "",
        |_| {},
        |ws| {
            // Listening until the test process ends.
            let l = std::os::unix::net::UnixListener::bind(ws.join("sock")).unwrap();
            std::mem::forget(l);
        },
        no_env,
    );
}

/// `cargo gocache stats` counts build-script runs: stored, restored and
/// refused, in its text and in `--json`.
#[test]
fn stats_count_build_script_runs() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), "let v = String::from(\"s\");", "");
    let target = d.path().join("t");
    let (r, _) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(scripts(&r).0, 0, "{}", r.stderr());
    let (r, _) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
    let text = run(gocache(&store).args(["gocache", "stats"]))
        .success()
        .stdout();
    assert!(
        text.contains("build scripts     1 restored, 1 run and stored, 0 run and refused"),
        "{text}"
    );
    let json = run(gocache(&store).args(["gocache", "stats", "--json"]))
        .success()
        .stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["build_scripts"]["hits"], 1, "{json}");
    assert_eq!(v["build_scripts"]["misses"], 1, "{json}");
}

#[test]
fn git_rev_parse_across_a_commit() {
    require_tool("git");
    let git = |ws: &Path, args: &[&str]| {
        let r = run(Command::new("git")
            .args(args)
            .current_dir(ws)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid"));
        r.assert_success();
    };
    replay_equals_a_fresh_run(
        "let o = Command::new(\"git\").args([\"rev-parse\", \"HEAD\"]).output().unwrap(); \
         let v = String::from_utf8(o.stdout).unwrap();",
        "",
        |ws| {
            fs::write(ws.join(".gitignore"), "/target\n").unwrap();
            git(ws, &["init", "-q"]);
            git(ws, &["add", "-A"]);
            git(ws, &["commit", "-qm", "one"]);
        },
        |ws| {
            write(ws, "NEWS", "two");
            git(ws, &["add", "-A"]);
            git(ws, &["commit", "-qm", "two"]);
        },
        no_env,
    );
}

/// A statically linked program the script runs reads a file: an
/// `LD_PRELOAD` observer would not see it; the kernel does.
#[test]
fn a_statically_linked_program_run_by_the_script() {
    require_tool("gcc");
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("tool.c");
    fs::write(
        &src,
        "#include <stdio.h>\nint main(void){ char b[64]={0}; FILE*f=fopen(\"input.txt\",\"r\"); \
         if(!f) return 1; fread(b,1,63,f); fputs(b, stdout); return 0; }\n",
    )
    .unwrap();
    let tool = d.path().join("tool");
    let built = Command::new("gcc")
        .arg("-static")
        .arg(&src)
        .arg("-o")
        .arg(&tool)
        .status()
        .unwrap();
    assert!(built.success(), "gcc -static (libc6-dev has libc.a)");
    let body = format!(
        "let o = Command::new(\"{}\").output().unwrap(); let v = String::from_utf8(o.stdout).unwrap();",
        tool.display()
    );
    replay_equals_a_fresh_run(
        &body,
        "",
        |ws| write(ws, "input.txt", "static one"),
        |ws| write(ws, "input.txt", "static two"),
        no_env,
    );
}

/// A path crate with a plain `cc::Build` over a globbed directory: an
/// edited source, an edited header, and a source added to the directory.
#[test]
fn a_plain_cc_build_of_a_globbed_directory() {
    require_tool("gcc");
    let body = "let mut b = cc::Build::new(); b.include(\"inc\"); \
        let mut files: Vec<_> = std::fs::read_dir(\"csrc\").unwrap().map(|e| e.unwrap().path()).collect(); \
        files.sort(); for f in &files { b.file(f); } b.compile(\"g\"); \
        let lib = std::fs::read(format!(\"{out}/libg.a\")).unwrap(); \
        let n = lib.windows(5).filter(|w| *w == b\"MARK_\").count(); \
        let m: Vec<String> = (0..lib.len().saturating_sub(8)).filter(|&i| &lib[i..i+5] == b\"MARK_\") \
            .map(|i| String::from_utf8_lossy(&lib[i..i+8]).into_owned()).collect(); \
        let v = format!(\"{n} {}\", m.join(\",\"));";
    let setup = |ws: &Path| {
        write(ws, "inc/m.h", "#define M \"MARK_h1\"\n");
        write(
            ws,
            "csrc/a.c",
            "#include \"m.h\"\nconst char *a = M; const char *a2 = \"MARK_a1\";\n",
        );
    };
    for (i, change) in [
        (|ws: &Path| {
            write(
                ws,
                "csrc/a.c",
                "#include \"m.h\"\nconst char *a = M; const char *a2 = \"MARK_a2\";\n",
            )
        }) as fn(&Path),
        |ws: &Path| write(ws, "inc/m.h", "#define M \"MARK_h2\"\n"),
        |ws: &Path| write(ws, "csrc/b.c", "const char *b = \"MARK_b1\";\n"),
    ]
    .into_iter()
    .enumerate()
    {
        eprintln!("change {i}");
        replay_equals_a_fresh_run(body, "cc = \"1\"", setup, change, no_env);
    }
}

/// One source compiled twice by a build script, with `-D` values naming
/// two directories of `OUT_DIR` that it does not use: the second compile
/// is served from the first's entry after asking gcc, beside the
/// observation (`Job::resolve_values_aside`). What that read is what the
/// lookup read: the run is stored, not refused (`unobserved-compile`),
/// and restored after `cargo clean`.
#[test]
fn a_compile_served_across_unused_values_inside_an_observed_run() {
    require_tool("gcc");
    let body = "for d in [\"one\", \"two\"] { let o = format!(\"{out}/{d}\"); \
        std::fs::create_dir_all(&o).unwrap(); \
        cc::Build::new().file(\"csrc/a.c\").out_dir(&o) \
            .define(\"DATADIR\", format!(\"\\\"{o}\\\"\").as_str()).compile(d); } \
        let v = String::from(\"built\");";
    let dir = tempfile::tempdir().unwrap();
    let ws = project(dir.path(), body, "cc = \"1\"");
    write(&ws, "csrc/a.c", "int a(void) { return 1; }\n");
    let store = dir.path().join("store");
    let target = dir.path().join("target");
    let (r, out) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(out, "built");
    assert_eq!(scripts(&r), (0, 1, "stored 1".into()), "{}", r.stderr());
    let (r, out) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(out, "built");
    assert_eq!(
        scripts(&r).0,
        1,
        "restored after cargo clean: {}",
        r.stderr()
    );
}

/// `DEP_*` metadata from a dependency's build script (`links`) that
/// changes: the dependent's environment changes, so does its key.
#[test]
fn dep_metadata_that_changes() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let v = std::env::var(\"DEP_KNOB_VALUE\").unwrap();",
        "",
    );
    let cargo_toml = fs::read_to_string(ws.join("Cargo.toml")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        format!("{cargo_toml}\n[dependencies]\nknob = {{ path = \"knob\" }}\n"),
    )
    .unwrap();
    let knob = |value: &str| {
        write(
            &ws,
            "knob/Cargo.toml",
            "[package]\nname = \"knob\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlinks = \"knob\"\n",
        );
        write(&ws, "knob/src/lib.rs", "");
        write(
            &ws,
            "knob/build.rs",
            "fn main() { let v = std::fs::read_to_string(\"value.txt\").unwrap(); \
             println!(\"cargo:value={}\", v.trim()); }\n",
        );
        write(&ws, "knob/value.txt", value);
    };
    knob("first");
    let (target, fresh) = (d.path().join("t"), d.path().join("fresh"));
    let (_, one) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(one, "first");
    let (r, again) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(scripts(&r), (2, 0, String::new()), "{}", r.stderr());
    assert_eq!(again, "first");
    write(&ws, "knob/value.txt", "second");
    let (r, two) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(two, plain_build(&ws, &fresh, &[]));
    assert_eq!(two, "second", "{}", r.stderr());
}

/// A file written outside `OUT_DIR` is a side effect a restore would not
/// make: refused, counted, and the script runs every time.
#[test]
fn a_file_written_outside_out_dir_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "std::fs::write(\"generated.txt\", \"side effect\").unwrap(); let v = String::from(\"x\");",
        "",
    );
    let target = d.path().join("t");
    for _ in 0..2 {
        let (r, out) = gocache_build(&store, &ws, &target, &[]);
        assert_eq!(out, "x");
        let (restored, ran, reasons) = scripts(&r);
        assert_eq!((restored, ran), (0, 1), "{}", r.stderr());
        assert!(reasons.contains("writes-outside-out-dir"), "{reasons}");
        fs::remove_file(ws.join("generated.txt")).unwrap();
    }
}

/// A run whose `OUT_DIR` holds its own absolute path (generated code
/// naming it) hits after `cargo clean`, never in another checkout: the
/// second checkout's binary names the second checkout.
#[test]
fn absolute_paths_in_out_dir_across_two_checkouts() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), "let v = out.clone();", "");
    let (t1, t2) = (ws.join("target"), d.path().join("b/target"));
    let (_, a) = gocache_build(&store, &ws, &t1, &[]);
    assert!(a.starts_with(&*t1.to_string_lossy()), "{a}");
    let (r, a2) = gocache_build(&store, &ws, &t1, &[]);
    assert_eq!(scripts(&r).0, 1, "same paths: restored\n{}", r.stderr());
    assert_eq!(a2, a);
    let b = d.path().join("b");
    copy_tree(&ws, &b);
    let (r, b_out) = gocache_build(&store, &b, &t2, &[]);
    assert!(
        b_out.starts_with(&*t2.to_string_lossy()),
        "{b_out}\n{}",
        r.stderr()
    );
    assert_eq!(scripts(&r).0, 0, "{}", r.stderr());
    // And explain says why: the stored run is tied to the first paths.
    let out = run(gocache(&store).args(["gocache", "explain"]).current_dir(&b))
        .success()
        .stdout();
    assert!(
        out.contains("OUT_DIR holds the absolute paths it ran with")
            && out.contains(&*t1.to_string_lossy()),
        "{out}"
    );
}

/// A script that names no machine path is restored in a second checkout
/// with another target directory, and its output is right there.
#[test]
fn a_second_checkout_restores_a_path_free_run() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let v = std::fs::read_to_string(\"data.txt\").unwrap();",
        "",
    );
    write(&ws, "data.txt", "shared");
    let (_, a) = gocache_build(&store, &ws, &ws.join("target"), &[]);
    let b = d.path().join("second");
    copy_tree(&ws, &b);
    let (r, b_out) = gocache_build(&store, &b, &b.join("target"), &[]);
    assert_eq!(b_out, a);
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
}

/// `explain` names the undeclared input whose change made the run miss.
#[test]
fn explain_names_the_input_that_changed() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let v = std::fs::read_to_string(\"data.txt\").unwrap();",
        "",
    );
    write(&ws, "data.txt", "one");
    let target = d.path().join("t");
    gocache_build(&store, &ws, &target, &[]);
    write(&ws, "data.txt", "two");
    gocache_build(&store, &ws, &target, &[]);
    let r = run(gocache(&store)
        .args(["gocache", "explain"])
        .current_dir(&ws))
    .success();
    let out = r.stdout();
    assert!(out.contains("bs 0.1.0 (build script)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("/gocache/pkg/bs-0.1.0/data.txt: file ") && l.contains(" -> file ")),
        "{out}"
    );
}

/// `--verify` runs a script whose cached run it would replay and compares:
/// a script writing random bytes into `OUT_DIR` is named, and the run fails.
#[test]
fn verify_names_a_script_whose_output_is_not_a_function_of_its_inputs() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let mut b = [0u8; 16]; use std::io::Read; \
         std::fs::File::open(\"/dev/urandom\").unwrap().read_exact(&mut b).unwrap(); \
         let v = format!(\"{b:?}\");",
        "",
    );
    let target = d.path().join("t");
    gocache_build(&store, &ws, &target, &[]);
    let _ = fs::remove_dir_all(&target);
    let r = run(gocache(&store)
        .args(["gocache", "--verify", "build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_GOCACHE_BUILD_SCRIPTS", "cache"));
    r.assert_failure();
    r.stderr_contains("nondeterministic: bs 0.1.0 (build script)");
}

/// The launcher is `cargo-gocache` itself, hard-linked in place of the
/// build script: recompiling the script, under `cargo gocache` or plain
/// cargo, must replace the link, never write through it into the binary.
#[test]
fn recompiling_a_build_script_never_writes_into_cargo_gocache() {
    let bin_bytes = || fs::read(crate::support::bin()).unwrap();
    let before = bin_bytes();
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), "let v = String::from(\"one\");", "");
    let target = d.path().join("t");
    let (_, out) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(out, "one");
    // Plain cargo over the same target directory, the script edited.
    let build_rs = fs::read_to_string(ws.join("build.rs")).unwrap();
    write(&ws, "build.rs", &build_rs.replace("\"one\"", "\"two\""));
    run(cargo()
        .args(["build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    let out = run(&mut Command::new(target.join("debug/bs")))
        .success()
        .stdout();
    assert_eq!(out, "two");
    // And under cargo gocache again, without removing the target.
    write(&ws, "build.rs", &build_rs.replace("\"one\"", "\"three\""));
    let mut cmd = gocache(&store);
    cmd.args(["gocache", "build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_GOCACHE_BUILD_SCRIPTS", "cache");
    run(&mut cmd).success();
    let out = run(&mut Command::new(target.join("debug/bs")))
        .success()
        .stdout();
    assert_eq!(out, "three");
    assert!(
        bin_bytes() == before,
        "cargo-gocache was written through a launcher"
    );
}

/// The C compiles of a build script that misses run beside the
/// observation, untraced (`observe::delegate`); what they read must still
/// reach the key. A header added earlier in the search path (`inc1`
/// before `inc2`, where the first build found it) shadows the one the
/// compile used: the run's replay would carry the old object.
#[test]
fn a_header_added_earlier_in_the_search_path_by_a_compile_run_beside() {
    require_tool("gcc");
    let body = "cc::Build::new().include(\"inc1\").include(\"inc2\").file(\"csrc/a.c\").compile(\"g\"); \
        let lib = std::fs::read(format!(\"{out}/libg.a\")).unwrap(); \
        let m: Vec<String> = (0..lib.len().saturating_sub(8)).filter(|&i| &lib[i..i+5] == b\"MARK_\") \
            .map(|i| String::from_utf8_lossy(&lib[i..i+8]).into_owned()).collect(); \
        let v = m.join(\",\");";
    let setup = |ws: &Path| {
        write(ws, "inc2/m.h", "#define M \"MARK_h2\"\n");
        fs::create_dir_all(ws.join("inc1")).unwrap();
        write(ws, "csrc/a.c", "#include <m.h>\nconst char *a = M;\n");
    };
    let change = |ws: &Path| write(ws, "inc1/m.h", "#define M \"MARK_h1\"\n");
    replay_equals_a_fresh_run(body, "cc = \"1\"", setup, change, no_env);
}

/// A configure-style probe: a compile that fails until a header appears.
/// Its failure is rerun inside the observation, which sees the header
/// absent; adding it must run the script again.
#[test]
fn a_probe_compile_that_fails_until_a_header_appears() {
    require_tool("gcc");
    let body =
        "let ok = cc::Build::new().include(\"inc\").file(\"probe.c\").cargo_warnings(false) \
        .try_compile(\"probe\").is_ok(); let v = format!(\"have-feature={ok}\");";
    let setup = |ws: &Path| {
        fs::create_dir_all(ws.join("inc")).unwrap();
        write(
            ws,
            "probe.c",
            "#include \"feature.h\"\nint probe = FEATURE;\n",
        );
    };
    let change = |ws: &Path| write(ws, "inc/feature.h", "#define FEATURE 1\n");
    replay_equals_a_fresh_run(body, "cc = \"1\"", setup, change, no_env);
}

/// An object a compile run beside the observation writes outside
/// `OUT_DIR` is reported by the wrapper: the run is refused as any other
/// write outside.
#[test]
fn an_object_compiled_outside_out_dir_is_refused() {
    require_tool("gcc");
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(
        d.path(),
        "let objs = std::path::Path::new(&std::env::var(\"CARGO_MANIFEST_DIR\").unwrap()).join(\"objs\"); \
         std::fs::create_dir_all(&objs).unwrap(); \
         let o = cc::Build::new().file(\"a.c\").out_dir(&objs).compile_intermediates(); \
         let v = format!(\"{}\", o.len());",
        "cc = \"1\"",
    );
    write(&ws, "a.c", "int a = 1;\n");
    let target = d.path().join("t");
    for _ in 0..2 {
        let (r, out) = gocache_build(&store, &ws, &target, &[]);
        assert_eq!(out, "1");
        let (restored, ran, reasons) = scripts(&r);
        assert_eq!((restored, ran), (0, 1), "{}", r.stderr());
        assert!(reasons.contains("writes-outside-out-dir"), "{reasons}");
        fs::remove_dir_all(ws.join("objs")).unwrap();
    }
}

/// A target directory on another file system than the binary (here
/// `/dev/shm`, a tmpfs): the launcher cannot be a hard link to the
/// binary, and must not be a symbolic link (the target directory would
/// break for plain cargo when gocache is uninstalled). It is a hard link
/// to one copy of the binary in the target directory, and the run is
/// restored after `cargo clean` as anywhere else.
#[test]
fn a_target_directory_on_another_file_system_gets_a_copy_of_the_launcher() {
    use std::os::unix::fs::MetadataExt;
    let shm = Path::new("/dev/shm");
    let exe = crate::support::bin();
    let (Ok(a), Ok(b)) = (fs::metadata(shm), fs::metadata(&exe)) else {
        eprintln!("skipped: no /dev/shm");
        return;
    };
    if a.dev() == b.dev() {
        eprintln!("skipped: /dev/shm is on the binary's file system");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let ws = project(d.path(), "let v = String::from(\"x\");", "");
    let t = tempfile::tempdir_in(shm).unwrap();
    let target = t.path().join("t");
    let (r, out) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!((out.as_str(), scripts(&r).1), ("x", 1), "{}", r.stderr());
    let build = target.join("debug/build");
    let copies: Vec<_> = fs::read_dir(&build)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".gocache-launcher-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    for e in fs::read_dir(&build).unwrap() {
        let dir = e.unwrap().path();
        if dir.is_dir() {
            for f in fs::read_dir(&dir).unwrap() {
                let f = f.unwrap();
                assert!(
                    !f.file_type().unwrap().is_symlink(),
                    "a symbolic link: {}",
                    f.path().display()
                );
            }
        }
    }
    let (r, out) = gocache_build(&store, &ws, &target, &[]);
    assert_eq!(out, "x");
    assert_eq!(scripts(&r), (1, 0, String::new()), "{}", r.stderr());
}

/// A dependency run (`cc -MM`, as jemalloc's make runs one beside each
/// compile) is not cached, and runs beside the observation too; what its
/// preprocessing read reaches the key: a header added earlier in the
/// search path changes the list it prints.
#[test]
fn a_dependency_run_beside_sees_a_header_added_earlier_in_the_search_path() {
    require_tool("gcc");
    let body = "let mut cmd = cc::Build::new().get_compiler().to_command(); \
        cmd.args([\"-MM\", \"-Iinc1\", \"-Iinc2\", \"a.c\"]); \
        let o = cmd.output().unwrap(); assert!(o.status.success()); \
        let v = String::from_utf8(o.stdout).unwrap();";
    let setup = |ws: &Path| {
        write(ws, "inc2/m.h", "#define M 2\n");
        fs::create_dir_all(ws.join("inc1")).unwrap();
        write(ws, "a.c", "#include <m.h>\nint a = M;\n");
    };
    let change = |ws: &Path| write(ws, "inc1/m.h", "#define M 1\n");
    replay_equals_a_fresh_run(body, "cc = \"1\"", setup, change, no_env);
}
