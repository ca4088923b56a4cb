//! Probe compiles: build systems asking the compiler a question.
//!
//! | probe | where it runs | cached? |
//! | --- | --- | --- |
//! | CMake's `try_compile`, `check_c_source_compiles`, the ABI check (`CMakeCCompilerABI.c`) | `CMakeFiles/CMakeScratch/TryCompile-<random>/` (CMake 3.24+), `CMakeFiles/CMakeTmp/` (older) | no: `probe:cmake-try-compile` |
//! | CMake's compiler identification (`CMakeCCompilerId.c`) | `CMakeFiles/<version>/CompilerIdC/` | never reaches the wrapper (CMake runs the compiler without the launcher) |
//! | autoconf's `conftest.c` | the build directory | yes, see below |
//! | cc's `flag_check.c` (`is_flag_supported`) | `OUT_DIR` | never reaches the wrapper (cc runs the compiler behind a known wrapper directly) |
//!
//! **CMake's scratch projects are not cached**: every configure makes a new
//! randomly named directory and target (`TryCompile-7qPUl0`, `cmTC_5f3ff`),
//! and both the source path and the object name are in the key, so such an
//! entry can never be read again: caching it only costs a store write per
//! probe and fills the store. Run uncached, they are counted as
//! uncacheable with their reason, so a warm build of a CMake crate has no
//! misses.
//!
//! **autoconf's probes are cached**: `conftest.c` has the same path, name
//! and (for the same configure script and compiler) the same content on
//! every run, so the second configure of the same package (every warm
//! `cargo gocache build` of a crate like tikv-jemalloc-sys reruns it after
//! `cargo clean`) reads every entry the first one wrote. Those entries are
//! small, and a hit is cheaper than the compile. Measured with
//! `scripts/bench-probes.sh --rounds 2` (jemalloc 5.3's `configure`, as
//! tikv-jemalloc-sys runs it; one interleaved run on a loaded 2-core
//! machine): 33.5 s with the probes passed through uncached, 31.2 s with
//! them all hits (0.93x), for 338 store files (7.0 MB with the compiler
//! memos) written once by the first configure. Leaving them out would not
//! keep the store small either: those entries are what the next configure
//! of the same package reads. The ones no build reads again age out by the
//! store's trim policy like any other.

use std::path::{Component, Path};

use crate::cmdline::Compile;

/// Why this compile is a probe that is not worth caching, if it is one.
pub fn uncached_probe(cwd: &Path, compile: &Compile) -> Option<&'static str> {
    let object = compile.object.as_path();
    let in_scratch = |p: &Path| {
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        };
        is_cmake_scratch(&full)
    };
    (in_scratch(cwd) || in_scratch(&compile.source) || in_scratch(object))
        .then_some("probe:cmake-try-compile")
}

/// A path inside a CMake `try_compile` scratch project.
fn is_cmake_scratch(path: &Path) -> bool {
    let names: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => n.to_str(),
            _ => None,
        })
        .collect();
    names
        .windows(3)
        .any(|w| w[0] == "CMakeFiles" && w[1] == "CMakeScratch" && w[2].starts_with("TryCompile-"))
        || names
            .windows(2)
            .any(|w| w[0] == "CMakeFiles" && w[1] == "CMakeTmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmake_scratch_directories_are_probes() {
        assert!(is_cmake_scratch(Path::new(
            "/t/out/build/CMakeFiles/CMakeScratch/TryCompile-7qPUl0/src.c"
        )));
        assert!(is_cmake_scratch(Path::new("/b/CMakeFiles/CMakeTmp")));
        assert!(!is_cmake_scratch(Path::new(
            "/b/CMakeFiles/zlib.dir/adler32.c.o"
        )));
        assert!(!is_cmake_scratch(Path::new(
            "/b/CMakeScratch/TryCompile-x/a.c"
        )));
        assert!(!is_cmake_scratch(Path::new("/src/conftest.c")));
    }
}
