//! Cross compiling (issue 11 item 7) with Debian's `gcc-aarch64-linux-gnu`:
//! at the wrapper, `cargo-gocache aarch64-linux-gnu-gcc` is cached and
//! keyed apart from the host gcc; at the `cc` level, `cargo gocache build
//! --target aarch64-unknown-linux-gnu` resolves `CC_aarch64-unknown-linux-gnu`
//! to the cross compiler and the archiver to `aarch64-linux-gnu-ar`, and the
//! build script's compiles go through the cache. Rust's std for that target
//! cannot be installed here (no network to rustup), so the build itself
//! stops where rustc needs `core` for aarch64, after the build script ran.

use std::fs;
use std::path::Path;
use std::process::Command;

use cargo_gocache::stats::{read_events, Outcome};

use crate::e2e::{count, take_stats};
use crate::support::{bin, clean_command, gocache};

const CROSS_CC: &str = "aarch64-linux-gnu-gcc";

fn need_cross() {
    crate::support::require_tool(CROSS_CC);
}

fn last_event(store: &Path) -> String {
    match read_events(&store.join("stats/events.log"))
        .last()
        .map(|e| &e.outcome)
    {
        Some(Outcome::Hit) => "hit".into(),
        Some(Outcome::Miss) => "miss".into(),
        other => format!("{other:?}"),
    }
}

/// The ELF machine of an object (183 = AArch64, 62 = x86-64).
fn elf_machine(bytes: &[u8]) -> u16 {
    assert_eq!(&bytes[..4], b"\x7fELF");
    u16::from_le_bytes([bytes[18], bytes[19]])
}

#[test]
fn cross_compiler_is_cached_and_keyed_apart_from_the_host_gcc() {
    need_cross();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = dir.join("store");
    fs::write(dir.join("a.c"), "int f(int x) { return x * 3 + 1; }\n").unwrap();
    let compile = |cc: &str, store: &Path| {
        let out = clean_command(bin())
            .arg(cc)
            .args(["-O2", "-c", "a.c", "-o", "a.o"])
            .current_dir(dir)
            .env("CARGO_GOCACHE_DIR", store)
            .env_remove("CARGO_GOCACHE_RUN_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::read(dir.join("a.o")).unwrap()
    };
    let cross = compile(CROSS_CC, &store);
    assert_eq!(last_event(&store), "miss");
    assert_eq!(elf_machine(&cross), 183);
    // The host gcc, same source and flags: its own key, its own object.
    let host = compile("gcc", &store);
    assert_eq!(
        last_event(&store),
        "miss",
        "the host compile hit the cross object"
    );
    assert_eq!(elf_machine(&host), 62);
    assert_eq!(compile(CROSS_CC, &store), cross);
    assert_eq!(last_event(&store), "hit");
    assert_eq!(compile("gcc", &store), host);
    assert_eq!(last_event(&store), "hit");
    // Byte for byte what the cross compiler makes uncached.
    assert_eq!(compile(CROSS_CC, Path::new("off")), cross);
}

#[test]
fn cross_target_build_script_compiles_through_the_cross_compiler() {
    need_cross();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("crossy");
    crate::support::build_dep_crate(&ws, "crossy", "cc");
    fs::write(ws.join("src/x.c"), "int x(void) { return 7; }\n").unwrap();
    fs::write(
        ws.join("build.rs"),
        "fn main() { cc::Build::new().file(\"src/x.c\").compile(\"x\"); }\n",
    )
    .unwrap();
    fs::write(ws.join("src/lib.rs"), "#![no_std]\n").unwrap();
    let store = tmp.path().join("store");
    let target = ws.join("target");
    let build = || {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build", "--target", "aarch64-unknown-linux-gnu"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_GOCACHE_DEBUG", "run");
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The std for aarch64 is not installed: rustc stops there, after
        // the build script (if it is installed, the build succeeds).
        assert!(
            out.status.success()
                || stderr.contains("can't find crate for `core`")
                || stderr.contains("target may not be installed"),
            "{stderr}"
        );
        stderr
    };
    let stderr = build();
    // The runner's resolution, printed by CARGO_GOCACHE_DEBUG=run.
    let var = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(&format!("gocache: {name}=")))
            .unwrap_or_else(|| panic!("no {name} set:\n{stderr}"))
            .to_string()
    };
    assert!(
        var("CC_aarch64-unknown-linux-gnu").ends_with(&format!(" {CROSS_CC}")),
        "{stderr}"
    );
    assert!(
        var("CC_x86_64-unknown-linux-gnu").ends_with(" cc"),
        "{stderr}"
    );
    assert_eq!(
        var("CARGO_GOCACHE_AR_aarch64_unknown_linux_gnu"),
        "aarch64-linux-gnu-ar"
    );
    let cold = take_stats(&store);
    assert_eq!(count(&cold, "misses"), 1, "{cold}\n{stderr}");
    let lib = fs::read_dir(target.join("aarch64-unknown-linux-gnu/debug/build"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("out/libx.a"))
        .find(|p| p.is_file())
        .expect("the build script made no libx.a");
    let members = Command::new("aarch64-linux-gnu-ar")
        .arg("t")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&members.stdout).contains("x.o"));
    // Warm, from nothing: the cross compile hits.
    fs::remove_dir_all(&target).unwrap();
    build();
    let warm = take_stats(&store);
    assert_eq!(count(&warm, "hits"), 1, "{warm}");
    assert_eq!(count(&warm, "misses"), 0, "{warm}");
}
