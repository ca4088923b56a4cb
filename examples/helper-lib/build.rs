//! The only change from a plain cc build script: `cached_compile` in
//! place of `compile` (and the `use`).
use gocache_build::CachedBuild;

fn main() {
    cc::Build::new()
        .files(["csrc/checksum.c", "csrc/scale.c", "csrc/greet.c"])
        .include("include")
        .warnings(true)
        .cached_compile("helperc");

    cc::Build::new()
        .cpp(true)
        .file("csrc/words.cpp")
        .include("include")
        .cached_compile("helpercpp");
}
