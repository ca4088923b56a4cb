//! `--verify` (`CARGO_GOCACHE_VERIFY=1`): every hit is compiled too, and a
//! result that differs from the cached one is reported.

use std::os::unix::fs::PermissionsExt;

use crate::support::Sandbox;

/// A "compiler" that writes random bytes as its object: the same inputs
/// never give the same output. It answers `--version` and the include
/// search-list probe as gcc does, and writes the depfile it is asked for.
const RANDOM_CC: &str = r#"#!/bin/sh
case "$*" in *--version*) echo "randcc 1.0"; exit 0;; esac
case "$*" in *" -v "*) printf '#include <...> search starts here:\n /usr/include\nEnd of search list.\n' >&2; exit 0;; esac
out=""; dep=""; src=""; prev=""
for a in "$@"; do
  case "$prev" in -o) out="$a";; -MF) dep="$a";; esac
  case "$a" in *.c) src="$a";; esac
  prev="$a"
done
head -c 256 /dev/urandom > "$out"
[ -n "$dep" ] && printf '%s: %s\n' "$out" "$src" > "$dep"
exit 0
"#;

fn setup(sb: &Sandbox) {
    sb.write("work/a.c", "int a(void) { return 1; }\n");
    let cc = sb.write("work/randcc", RANDOM_CC);
    std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Sources older than the compile's start (the wrapper refuses to cache
    // a file modified during the compile).
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[test]
fn nondeterministic_compile_is_caught() {
    let sb = Sandbox::new();
    setup(&sb);
    let cc = sb.path("work/randcc");
    let compile = || {
        let mut c = sb.gocache();
        c.arg(&cc).args(["-c", "a.c", "-o", "a.o"]);
        c
    };
    compile().run().assert_success();
    // A plain hit serves the cached bytes and says nothing.
    compile().run().assert_success();
    let log = std::fs::read_to_string(sb.cache_dir().join("stats/events.log")).unwrap();
    assert!(log.contains("\thit\t"), "{log}");
    assert!(!log.contains("nondeterministic"), "{log}");
    // With --verify the hit is compiled again, and the difference reported.
    let run = compile().env("CARGO_GOCACHE_VERIFY", "1").run();
    run.assert_success()
        .stderr_contains("gocache: nondeterministic:")
        .stderr_contains("a.o");
    let json = sb
        .gocache()
        .args(["stats", "--json"])
        .run()
        .assert_success()
        .stdout_json();
    assert_eq!(json["nondeterministic"], 1, "{json}");
}

/// Regression: the standalone wrapper read `CARGO_GOCACHE_VERIFY` as `1` or
/// `true` only, while `cargo gocache` took `yes` and `on` too; the settings'
/// one boolean grammar is everyone's now.
#[test]
fn verify_yes_works_in_the_standalone_wrapper() {
    let sb = Sandbox::new();
    setup(&sb);
    let cc = sb.path("work/randcc");
    let compile = || {
        let mut c = sb.gocache();
        c.arg(&cc).args(["-c", "a.c", "-o", "a.o"]);
        c
    };
    compile().run().assert_success();
    for yes in ["yes", "On", "TRUE"] {
        compile()
            .env("CARGO_GOCACHE_VERIFY", yes)
            .run()
            .assert_success()
            .stderr_contains("gocache: nondeterministic:");
    }
    let run = compile().env("CARGO_GOCACHE_VERIFY", "no").run();
    assert!(
        !run.assert_success().stderr.contains("nondeterministic"),
        "{run}"
    );
}

#[test]
fn deterministic_compile_verifies_clean() {
    let sb = Sandbox::new();
    setup(&sb);
    let compile = || {
        let mut c = sb.gocache();
        c.args(["gcc", "-O2", "-c", "a.c", "-o", "a.o"]);
        c
    };
    compile().run().assert_success();
    let run = compile().env("CARGO_GOCACHE_VERIFY", "1").run();
    run.assert_success();
    assert!(!run.to_string().contains("nondeterministic"), "{run}");
    let json = sb
        .gocache()
        .args(["stats", "--json"])
        .run()
        .assert_success()
        .stdout_json();
    assert_eq!(
        (json["hits"].as_u64(), json["nondeterministic"].as_u64()),
        (Some(1), Some(0)),
        "{json}"
    );
}
