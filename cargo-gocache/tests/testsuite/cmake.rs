//! CMake builds through the cache (issue 11 item 2): the `cmake` crate
//! passes `-DCMAKE_C_COMPILER=<the real compiler>`, so only the compiler
//! launchers `cargo gocache` sets reach the wrapper. A path crate with a
//! CMakeLists.txt (C and C++, `-isystem`, a `try_compile` probe, CMake's
//! `-MD -MT -MF` depfiles and `CMakeFiles/...o` objects), built by the real
//! `cmake` crate from crates.io with real CMake and gcc.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::e2e::{count, take_stats};
use crate::support::{cargo, gocache, run};

/// Every object CMake wrote under `dir`, keyed by its path below the
/// `CMakeFiles` directory, and the archive (built and installed), by name.
fn cmake_objects(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "o" || x == "a") {
                let s = p.to_string_lossy();
                if s.contains("CMakeScratch") || s.contains("/incremental/") {
                    continue;
                }
                let key = match s.find("CMakeFiles") {
                    Some(i) => s[i..].to_string(),
                    None => p.file_name().unwrap().to_string_lossy().into_owned(),
                };
                out.insert(key, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// A crate built by the `cmake` crate, in `ws`.
pub(crate) fn cmake_crate(ws: &Path) {
    crate::support::build_dep_crate(ws, "cmk", "cmake");
    fs::create_dir_all(ws.join("csrc/inc")).unwrap();
    fs::write(
        ws.join("csrc/CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.13)\n\
         project(cmk C CXX)\n\
         include(CheckCSourceCompiles)\n\
         check_c_source_compiles(\"int main(void) { return 0; }\" CMK_HAVE_MAIN)\n\
         add_library(cmk STATIC one.c two.cpp)\n\
         target_include_directories(cmk SYSTEM PRIVATE inc)\n\
         install(TARGETS cmk ARCHIVE DESTINATION lib)\n",
    )
    .unwrap();
    fs::write(ws.join("csrc/inc/cmk.h"), "#define CMK_ONE 1\n").unwrap();
    fs::write(
        ws.join("csrc/one.c"),
        "#include <cmk.h>\nint cmk_one(void) { return CMK_ONE; }\n",
    )
    .unwrap();
    fs::write(
        ws.join("csrc/two.cpp"),
        "#include <cmk.h>\nextern \"C\" int cmk_two() { return CMK_ONE + 1; }\n",
    )
    .unwrap();
    fs::write(
        ws.join("build.rs"),
        "fn main() {\n    let dst = cmake::build(\"csrc\");\n    \
         println!(\"cargo:rustc-link-search=native={}/lib\", dst.display());\n    \
         println!(\"cargo:rustc-link-lib=static=cmk\");\n    \
         println!(\"cargo:rustc-link-lib=stdc++\");\n}\n",
    )
    .unwrap();
    fs::write(
        ws.join("src/main.rs"),
        "extern \"C\" { fn cmk_one() -> i32; fn cmk_two() -> i32; }\n\
         fn main() { println!(\"{}\", unsafe { cmk_one() + cmk_two() }); }\n",
    )
    .unwrap();
}

fn need_cmake() {
    crate::support::require_tool("cmake");
}

/// Cold, `cargo clean`, warm: the warm build hits every compile CMake ran
/// for the library, misses none, and writes the same objects and archive;
/// the `try_compile` probes are counted as uncacheable probes, not misses.
#[test]
fn cmake_crate_compiles_go_through_the_cache() {
    need_cmake();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("cmk");
    cmake_crate(&ws);
    let store = tmp.path().join("store");
    let target = ws.join("target");
    let build = || {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("CMAKE_C_COMPILER_LAUNCHER")
            .env_remove("CMAKE_CXX_COMPILER_LAUNCHER")
            .env_remove("CMAKE_GENERATOR");
        run(&mut cmd).success()
    };
    let exe: PathBuf = target.join("debug/cmk");
    build();
    let cold = take_stats(&store);
    assert_eq!(count(&cold, "misses"), 2, "one.c and two.cpp\n{cold}");
    assert_eq!(count(&cold, "errors"), 0, "{cold}");
    assert!(
        cold["uncacheable"]["probe:cmake-try-compile"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "the try_compile probes were not recognised\n{cold}"
    );
    let cold_objects = cmake_objects(&target);
    assert_eq!(
        cold_objects.keys().collect::<Vec<_>>(),
        [
            "CMakeFiles/cmk.dir/one.c.o",
            "CMakeFiles/cmk.dir/two.cpp.o",
            "libcmk.a"
        ]
    );
    let out = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");

    run(cargo()
        .arg("clean")
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    let warm_build = build();
    let warm = take_stats(&store);
    assert_eq!(count(&warm, "hits"), 2, "{warm}");
    assert_eq!(count(&warm, "misses"), 0, "{warm}");
    warm_build.stderr_contains("gocache: 2 hits, 0 misses");
    assert_eq!(
        cmake_objects(&target),
        cold_objects,
        "objects differ after a hit"
    );
    let out = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
}

/// A launcher the user chose stays theirs.
#[test]
fn users_cmake_launcher_is_kept() {
    need_cmake();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("cmk");
    cmake_crate(&ws);
    let log = tmp.path().join("launch.log");
    let launcher = tmp.path().join("launch");
    fs::write(
        &launcher,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755)).unwrap();
    let store = tmp.path().join("store");
    let mut cmd = gocache(&store);
    cmd.args(["gocache", "build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", ws.join("target"))
        .env("CMAKE_C_COMPILER_LAUNCHER", &launcher)
        .env_remove("CMAKE_CXX_COMPILER_LAUNCHER");
    run(&mut cmd).success();
    let log = fs::read_to_string(&log).expect("the user's launcher never ran");
    assert!(log.contains("one.c"), "{log}");
    let stats = take_stats(&store);
    // two.cpp through gocache's CXX launcher, one.c through the user's.
    assert_eq!(count(&stats, "misses"), 1, "{stats}");
}
