//! The observer's two mechanisms (seccomp notifications by default, ptrace
//! where the kernel gives no listener) must record the same thing: runs of
//! shell scripts made of random file-system steps, each run once under
//! each from identical copies of a tree, compared path by path.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::Sandbox;

/// The tree every run starts from.
fn populate(root: &Path) {
    std::fs::create_dir_all(root.join("d/sub")).unwrap();
    std::fs::create_dir_all(root.join("e")).unwrap();
    std::fs::write(root.join("a"), "a\n").unwrap();
    std::fs::write(root.join("d/f"), "f\n").unwrap();
    std::os::unix::fs::symlink("a", root.join("l")).unwrap();
}

const NAMES: &[&str] = &["a", "l", "d", "d/f", "d/g", "e", "m", "n/o", "d/sub"];

/// Numbers below `n`, from `seed` (xorshift, so a failing seed reruns as
/// it was; `mix` tells the scripts' streams apart).
fn picker(seed: u64, mix: u64) -> impl FnMut(usize) -> usize {
    let mut x = seed.wrapping_mul(mix) | 1;
    move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    }
}

/// A script of `steps` random steps over [`NAMES`].
fn script(seed: u64, steps: usize) -> String {
    let mut next = picker(seed, 0x9E37_79B9_7F4A_7C15);
    let mut s = String::from("exec >/dev/null 2>&1\n");
    for _ in 0..steps {
        let p = NAMES[next(NAMES.len())];
        let q = NAMES[next(NAMES.len())];
        let line = match next(14) {
            0 => format!("cat {p}"),
            1 => format!("ls {p}"),
            2 => format!("mkdir -p {p}/new"),
            3 => format!("mkdir {p}"),
            4 => format!("rm -f {p}"),
            5 => format!("touch {p}"),
            6 => format!("echo hi > {p}"),
            7 => format!("ln -s a {p}"),
            8 => format!("mv {p} {q}"),
            9 => format!("echo t > {p}.tmp; rm -f {p}.tmp"),
            10 => format!("test -e {p}"),
            11 => format!("rmdir {p}"),
            12 => format!("cp {p} {q}"),
            _ => format!("echo more >> {p}"),
        };
        s.push_str(&line);
        s.push_str(" || true\n");
    }
    s
}

/// A script of reads and of writes that all fail (each leaves the tree as
/// it was): where notifications judge a call by the path's state, ptrace
/// sees its result, and each must come out a probe.
fn failing_script(seed: u64, steps: usize) -> String {
    let mut next = picker(seed, 0xD1B5_4A32_D192_ED03);
    let there = ["a", "l", "d", "d/f", "d/sub", "e"];
    let missing = ["m", "n/o", "d/g", "d/sub/z"];
    let mut s = String::from("exec >/dev/null 2>&1\n");
    for _ in 0..steps {
        let t = there[next(there.len())];
        let m = missing[next(missing.len())];
        let line = match next(12) {
            0 => format!("cat {t} {m}"),
            1 => format!("ls {t} {m}"),
            2 => format!("test -e {m}; test -d {t}"),
            3 => format!("mkdir {t}"),
            4 => format!("mkdir -p {}", ["d/sub", "e", "d"][next(3)]),
            5 => format!("rm -f {m}"),
            6 => "rmdir d".to_string(),
            7 => format!("mv {m} {t}"),
            8 => format!("cp {m} {t}"),
            9 => format!("ln -s a {}", ["a", "l", "d/f"][next(3)]),
            10 => "touch n/o; echo x > n/p".to_string(),
            _ => format!("rmdir {m}"),
        };
        s.push_str(&line);
        s.push_str(" || true\n");
    }
    s
}

/// What one mechanism recorded under `root`, by path relative to it,
/// compared as the caller reads it:
/// * a path absent before and after the run was either made and removed
///   (a write) or never made (a probe): notifications cannot always tell
///   which, and the caller takes both the same way (a temporary file, or a
///   write refused), so it is compared as a probe;
/// * of a written path the caller reads nothing else (an output, or the
///   run is refused): its other letters are left out, and so are the paths
///   under it (a directory moved away takes them with it, which only
///   notifications see).
fn observed(sb: &Sandbox, root: &Path, script: &str, ptrace: bool) -> BTreeMap<String, String> {
    populate(root);
    let before: Vec<String> = NAMES
        .iter()
        .filter(|n| root.join(n).symlink_metadata().is_ok())
        .map(|n| n.to_string())
        .collect();
    let mut cmd = sb.gocache();
    cmd.args(["gocache", "observe", "--", "sh", "-c", script])
        .cwd(root);
    if ptrace {
        cmd.env("CARGO_GOCACHE_DEBUG", "observer-ptrace");
    }
    let run = cmd.run();
    let mut seen = BTreeMap::new();
    for line in run.stderr().lines() {
        let Some((access, path)) = line.split_once(' ') else {
            continue;
        };
        let Ok(rel) = Path::new(path).strip_prefix(root) else {
            continue;
        };
        let rel = rel.display().to_string();
        let mut access = access.to_string();
        let temporary = !before.contains(&rel) && root.join(&rel).symlink_metadata().is_err();
        if temporary && access.ends_with('w') {
            access = format!("r{}-", &access[1..4]);
        }
        if access.ends_with('w') {
            access = "----w".to_string();
        }
        seen.insert(rel, access);
    }
    let written: Vec<String> = seen
        .iter()
        .filter(|(p, a)| !p.is_empty() && a.as_str() == "----w")
        .map(|(p, _)| format!("{p}/"))
        .collect();
    seen.retain(|p, _| !written.iter().any(|w| p.starts_with(w.as_str())));
    assert!(
        run.stderr().contains("observed"),
        "no observation: {}",
        run.stderr()
    );
    seen
}

/// Calls that fail leave a probe, exactly as ptrace's results say.
#[test]
fn notifications_and_ptrace_record_the_same_failed_writes() {
    let sb = Sandbox::new();
    for seed in 1..=80u64 {
        let s = failing_script(seed, 12);
        let n = observed(&sb, &sb.path(format!("n{seed}")), &s, false);
        let p = observed(&sb, &sb.path(format!("p{seed}")), &s, true);
        assert!(!n.is_empty(), "seed {seed}: nothing recorded\n{s}");
        assert!(
            n.values().all(|a| !a.contains('w')),
            "seed {seed}: a failed call taken as a write: {n:?}\n{s}"
        );
        assert_eq!(n, p, "seed {seed}: notifications vs ptrace\n{s}");
    }
}

/// Any steps: the caller's verdict is the same. A run that wrote outside
/// its `OUT_DIR` is refused whatever else it did, so two observations that
/// both saw a write agree; otherwise they must be equal.
#[test]
fn notifications_and_ptrace_agree_on_any_steps() {
    let sb = Sandbox::new();
    let (mut both_wrote, mut compared) = (0, 0);
    for seed in 1..=120u64 {
        let s = script(seed, 10);
        let n = observed(&sb, &sb.path(format!("n{seed}")), &s, false);
        let p = observed(&sb, &sb.path(format!("p{seed}")), &s, true);
        let wrote = |m: &BTreeMap<String, String>| m.values().any(|a| a.contains('w'));
        assert!(!n.is_empty(), "seed {seed}: nothing recorded\n{s}");
        assert_eq!(wrote(&n), wrote(&p), "seed {seed}: {n:?}\nvs {p:?}\n{s}");
        if wrote(&n) {
            both_wrote += 1;
        } else {
            compared += 1;
            assert_eq!(n, p, "seed {seed}: notifications vs ptrace\n{s}");
        }
    }
    assert!(both_wrote > 0 && compared > 0, "{both_wrote} {compared}");
}

/// A run observed inside another observed run (a build script that runs
/// `cargo gocache`) cannot be observed with its own listener, and a ptrace
/// tracer under the outer filter would see nothing: it runs unobserved, and
/// the outer observation sees its reads.
#[test]
fn a_run_inside_an_observed_run_is_seen_by_the_outer_one() {
    let sb = Sandbox::new();
    let dir = sb.path("w");
    populate(&dir);
    // The inner observation refuses to start; the script then runs `cat`.
    let inner = format!(
        "{bin} gocache observe -- cat {a} || cat {a}",
        bin = crate::support::GOCACHE_BIN,
        a = dir.join("a").display()
    );
    let run = sb
        .gocache()
        .args(["gocache", "observe", "--", "sh", "-c", &inner])
        .cwd(&dir)
        .run();
    run.assert_success();
    // The inner one could not observe and said why.
    assert!(
        run.stderr().contains("inside another observed run"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("a\n"), "{}", run.stdout());
    // The outer one saw `cat` read the file.
    let a = dir.join("a").display().to_string();
    assert!(
        run.stderr()
            .lines()
            .any(|l| l.starts_with('r') && l.ends_with(&format!(" {a}"))),
        "{}",
        run.stderr()
    );
}
