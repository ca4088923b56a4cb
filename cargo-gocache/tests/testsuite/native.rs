//! `native` (issue 21): `-march=native` (gcc, clang) and
//! `-C target-cpu=native` (rustc) are keyed as what they mean on this
//! machine, never as the word, so a shared or remote store does not hand
//! one CPU's code to another.
//!
//! A second CPU is simulated: `CARGO_GOCACHE_TEST_CPUINFO` names the file
//! read in place of `/proc/cpuinfo` (the memo's fingerprint), and a
//! compiler script answers the `native` questions after that file's
//! `model name` (the compile itself is the real compiler's). The real
//! resolutions are checked against the real tools' own answers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::e2e::take_stats;
use crate::support::{gocache, output_ok, require_tool, run, test_cc, write_settled};

fn n(v: &Value, f: &str) -> u64 {
    v[f].as_u64().unwrap_or_else(|| panic!("no {f} in {v}"))
}

fn executable(path: &Path, text: &str) {
    write_settled(path, text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Two CPUs' `/proc/cpuinfo`, differing as two hosts of a store would.
fn cpuinfo(dir: &Path) -> (PathBuf, PathBuf) {
    let one = |name: &str, flags: &str| {
        let p = dir.join(format!("cpuinfo-{name}"));
        let block = |i: u32| {
            format!(
                "processor\t: {i}\nvendor_id\t: TestVendor\nmodel name\t: {name}\ncpu MHz\t\t: {}.000\nflags\t\t: {flags}\nbogomips\t: 5000.{i}\n",
                2000 + i
            )
        };
        fs::write(&p, format!("{}\n{}\n", block(0), block(1))).unwrap();
        p
    };
    (
        one("cpu-one", "fpu sse sse2 avx avx2"),
        one("cpu-two", "fpu sse sse2 avx avx2 avx512f"),
    )
}

/// The C (or Rust) compiles since the last call: (hits, misses, all stats).
fn hits_misses(store: &Path, rust: bool) -> (u64, u64, Value) {
    let all = take_stats(store);
    let v = if rust { &all["rust"] } else { &all };
    (n(v, "hits"), n(v, "misses"), all)
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// gcc's `-march=native` on two CPUs sharing a store: the second CPU's
/// compile misses (before: served the first CPU's object); each CPU then
/// hits its own entry, and a hit asks the compiler nothing (the
/// resolution is memoised per compiler and CPU).
#[test]
#[cfg(unix)]
fn march_native_on_another_cpu_is_not_served_this_cpus_object() {
    require_tool("gcc");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (one, two) = cpuinfo(d);
    // gcc, except that `-###` (the question `native` is resolved by)
    // answers for the CPU the cpuinfo file names, and is counted.
    let cc = d.join("cpu-gcc");
    executable(
        &cc,
        r#"#!/bin/sh
cpu=$(sed -n 's/^model name[^:]*: *//p' "$CARGO_GOCACHE_TEST_CPUINFO" | head -n 1)
for a in "$@"; do
  if [ "$a" = "-###" ]; then
    echo probe >> "$(dirname "$0")/probes.txt"
    echo " /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet /dev/null \"-march=$cpu\" -mavx2 --param \"l1-cache-size=32\" \"-mtune=$cpu\" -o /tmp/ccX.s" >&2
    exit 0
  fi
done
exec gcc "$@"
"#,
    );
    write_settled(
        &d.join("a.c"),
        "int f(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i]; return s; }\n",
    );
    let store = d.join("store");
    let compile = |cpu: &Path| {
        output_ok(
            gocache(&store)
                .arg(&cc)
                .args(["-O2", "-march=native", "-c", "a.c", "-o", "a.o"])
                .current_dir(d)
                .env("CARGO_GOCACHE_TEST_CPUINFO", cpu),
        );
        hits_misses(&store, false)
    };
    let probes = d.join("probes.txt");
    let (h, m, all) = compile(&one);
    assert_eq!((h, m), (0, 1), "{all}");
    assert_eq!(compile(&one).0, 1);
    assert_eq!(lines(&probes), 1, "a hit asked the compiler what native is");
    let (h, m, all) = compile(&two);
    assert_eq!(
        (h, m),
        (0, 1),
        "another CPU was served this CPU's -march=native object: {all}"
    );
    assert_eq!(compile(&two).0, 1);
    assert_eq!(compile(&one).0, 1);
    assert_eq!(lines(&probes), 2);
    // Without `native` the compile asks nothing and reads no cpuinfo.
    output_ok(
        gocache(&store)
            .arg(&cc)
            .args(["-O2", "-c", "a.c", "-o", "b.o"])
            .current_dir(d)
            .env("CARGO_GOCACHE_TEST_CPUINFO", d.join("absent")),
    );
    assert_eq!(lines(&probes), 2);
}

/// The real compiler's resolution: the key's `native` line is what the
/// compiler says `-march=native` is here (gcc's own `-Q --help=target`
/// names the same CPU), a second compile hits, and its object is the
/// uncached compile's.
#[test]
fn march_native_is_keyed_as_this_cpu_with_the_real_compiler() {
    let cc = test_cc();
    require_tool(cc);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_settled(
        &d.join("a.c"),
        "int f(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i]; return s; }\n",
    );
    let store = d.join("store");
    let compile = |out: &str, debug: bool| {
        let mut cmd = gocache(&store);
        cmd.args([cc, "-O2", "-march=native", "-c", "a.c", "-o", out])
            .current_dir(d);
        if debug {
            cmd.env("CARGO_GOCACHE_DEBUG", "hash");
        }
        output_ok(&mut cmd)
    };
    let first = compile("a.o", true);
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    let native = stderr
        .lines()
        .find_map(|l| l.split_once("]: native ").map(|(_, v)| v.to_string()))
        .unwrap_or_else(|| panic!("no native line hashed:\n{stderr}"));
    assert!(!native.contains("native"), "{native}");
    if cc == "gcc" {
        let q = output_ok(Command::new("gcc").args(["-march=native", "-Q", "--help=target"]));
        let march = String::from_utf8_lossy(&q.stdout)
            .lines()
            .find_map(|l| {
                let l = l.trim();
                l.strip_prefix("-march=").map(|v| v.trim().to_string())
            })
            .unwrap();
        assert!(
            native.split(' ').any(|w| w == format!("-march={march}")),
            "gcc says native is {march}; keyed: {native}"
        );
    } else {
        assert!(native.contains("-target-cpu "), "{native}");
    }
    let (h, m, _) = hits_misses(&store, false);
    assert_eq!((h, m), (0, 1));
    compile("b.o", false);
    let (h, _, _) = hits_misses(&store, false);
    assert_eq!(h, 1);
    let plain = output_ok(
        Command::new(cc)
            .args(["-O2", "-march=native", "-c", "a.c", "-o", "c.o"])
            .current_dir(d),
    );
    assert!(plain.status.success());
    assert_eq!(
        fs::read(d.join("b.o")).unwrap(),
        fs::read(d.join("c.o")).unwrap()
    );
}

/// The toolchain's rustc binary (past rustup's proxy).
fn real_rustc() -> PathBuf {
    let out = output_ok(Command::new("rustc").args(["--print", "sysroot"]));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin/rustc")
}

/// Compile a one-line lib with `-C target-cpu=native` through the wrapper.
fn compile_native_lib(dir: &Path, rustc: &Path, env: &[(&str, &Path)], debug: bool) -> String {
    let src = dir.join("src/lib.rs");
    if !src.exists() {
        write_settled(&src, "pub fn sum(a: &[u32]) -> u32 { a.iter().sum() }\n");
    }
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    let mut cmd = gocache(&dir.join("store"));
    cmd.arg(rustc)
        .args(["--crate-name", "sum", "--edition=2021"])
        .arg(&src)
        .args(["--crate-type", "lib", "--emit=dep-info,metadata,link"])
        .args(["-C", "opt-level=2", "-C", "target-cpu=native"])
        .args(["-C", "metadata=0123456789abcdef"])
        .args(["-C", "extra-filename=-0123456789abcdef"])
        .arg("--out-dir")
        .arg(&out)
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if debug {
        cmd.env("CARGO_GOCACHE_DEBUG", "hash");
    }
    run(&mut cmd).success().stderr()
}

/// rustc's `-C target-cpu=native` on two CPUs sharing a store: as for
/// gcc, the second CPU misses, each then hits its own entry, and a hit
/// asks rustc nothing.
#[test]
#[cfg(unix)]
fn target_cpu_native_on_another_cpu_is_not_served_this_cpus_rlib() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (one, two) = cpuinfo(d);
    let rustc = d.join("bin/rustc");
    executable(
        &rustc,
        &format!(
            r#"#!/bin/sh
cpu=$(sed -n 's/^model name[^:]*: *//p' "$CARGO_GOCACHE_TEST_CPUINFO" | head -n 1)
for a in "$@"; do
  if [ "$a" = "target-cpus" ]; then
    echo probe >> "$(dirname "$0")/probes.txt"
    "{real}" "$@" | sed "/^ *native /s/(currently [^)]*)/(currently $cpu)/"
    exit 0
  fi
done
exec "{real}" "$@"
"#,
            real = real_rustc().display()
        ),
    );
    let store = d.join("store");
    let compile = |cpu: &Path| {
        compile_native_lib(d, &rustc, &[("CARGO_GOCACHE_TEST_CPUINFO", cpu)], false);
        hits_misses(&store, true)
    };
    let probes = d.join("bin/probes.txt");
    assert_eq!(compile(&one).1, 1);
    assert_eq!(compile(&one).0, 1);
    assert_eq!(lines(&probes), 1, "a hit asked rustc what native is");
    let (h, m, all) = compile(&two);
    assert_eq!(
        (h, m),
        (0, 1),
        "another CPU was served this CPU's target-cpu=native rlib: {all}"
    );
    assert_eq!(compile(&two).0, 1);
    assert_eq!(compile(&one).0, 1);
    assert_eq!(lines(&probes), 2);
}

/// The real rustc's resolution: the key names the CPU rustc says native
/// is (`--print target-cpus`), and a second compile hits.
#[test]
fn target_cpu_native_is_keyed_as_this_cpu_with_the_real_rustc() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rustc = real_rustc();
    let stderr = compile_native_lib(d, &rustc, &[], true);
    let native = stderr
        .lines()
        .find_map(|l| l.split_once("]: native ").map(|(_, v)| v.to_string()))
        .unwrap_or_else(|| panic!("no native line hashed:\n{stderr}"));
    let cpus = output_ok(Command::new(&rustc).args(["--print", "target-cpus"]));
    let cpu = String::from_utf8_lossy(&cpus.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("native "))
        .and_then(|l| l.split("(currently ").nth(1))
        .and_then(|r| r.split(')').next())
        .unwrap()
        .to_string();
    assert!(
        native.starts_with(&format!("cpu={cpu} features=")),
        "{native}"
    );
    let (h, m, _) = hits_misses(&d.join("store"), true);
    assert_eq!((h, m), (0, 1));
    compile_native_lib(d, &rustc, &[], false);
    assert_eq!(hits_misses(&d.join("store"), true).0, 1);
}
