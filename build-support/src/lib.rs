//! Go's build cache and build IDs for the C and C++ a Rust build script
//! compiles with the [`cc`] crate.
//!
//! ```no_run
//! use gocache_build::CachedBuild;
//!
//! cc::Build::new()
//!     .file("src/a.c")
//!     .include("include")
//!     .cached_compile("foo"); // in place of `.compile("foo")`
//! ```
//!
//! [`CachedBuild`] adds [`cached_compile`](CachedBuild::cached_compile) and
//! [`try_cached_compile`](CachedBuild::try_cached_compile) to `cc::Build`:
//! one cache lookup per library, and no compile at all when the archive in
//! `OUT_DIR` already carries the right build ID. The archive is the one cc
//! would have built, byte for byte; a cache fault is a `cargo:warning` and
//! a plain cc compile, never a failed build.
//!
//! The cache is the one `cargo gocache` uses (`CARGO_GOCACHE_DIR`, else the
//! user's cache directory; `CARGO_GOCACHE_DIR=off` turns it off), and the
//! `cargo-gocache` binary does the caching: the helper runs
//! `$CARGO_GOCACHE_PROG` (which `cargo gocache` sets to itself for every
//! build), else `cargo-gocache` from `PATH`, for each library, and asks it
//! over a pipe. Without the binary the library is compiled by plain cc,
//! silently, so a crate using the helper builds for users who have no
//! gocache. A binary that speaks another version of the helper's protocol
//! gets one `cargo:warning` and a plain cc compile.
//!
//! This crate is a build-dependency of its users, so it depends on `std`
//! and `cc` only, and its API is [`CachedBuild`] and its error type. The
//! cache itself (store, keys, manifests, build IDs) lives in the
//! `cargo-gocache` binary; the one module besides, [`protocol`], is what
//! this client and that binary must agree on, public so that the binary
//! can use the same types, and of no use to a build script.

#![deny(missing_docs)]

mod error;
mod helper;
pub mod protocol;

pub use error::{Error, ErrorKind, Result};
pub use helper::CachedBuild;

#[cfg(test)]
mod tests {
    /// The build-dependency stays light (ARCHITECTURE.md): every user
    /// compiles this crate's dependencies, so they are `cc` alone.
    #[test]
    fn the_library_depends_on_cc_alone() {
        let manifest = include_str!("../Cargo.toml");
        let deps = manifest
            .split("\n[dependencies]\n")
            .nth(1)
            .expect("a [dependencies] table")
            .split("\n[")
            .next()
            .unwrap();
        let names: Vec<&str> = deps
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| l.split(['=', ' ']).next().unwrap())
            .collect();
        assert_eq!(names, ["cc"], "{deps}");
        assert!(
            !manifest.contains("[features]"),
            "the library has no features: what a build script compiles is all there is"
        );
    }

    /// What a user's build script compiles is the client alone, in well
    /// under 1,500 lines of code (tests, comments and blank lines aside).
    #[test]
    fn the_library_is_a_small_client() {
        let files = [
            include_str!("lib.rs"),
            include_str!("helper.rs"),
            include_str!("protocol/mod.rs"),
            include_str!("protocol/rerun.rs"),
            include_str!("error.rs"),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut on_disk = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    on_disk.push(p.strip_prefix(&dir).unwrap().to_path_buf());
                }
            }
        }
        assert_eq!(
            on_disk.len(),
            files.len(),
            "a file was added: count it here {on_disk:?}"
        );
        let lines: usize = files
            .iter()
            .map(|text| {
                text.split("\n#[cfg(test)]\nmod tests")
                    .next()
                    .unwrap()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("//"))
                    .count()
            })
            .sum();
        assert!(lines < 1500, "the client is {lines} lines of code");
    }
}
