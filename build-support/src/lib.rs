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
//! and `cc` only, and its public API is this page: by default it is the
//! helper and a small client of the binary. The cache engine it shares
//! with the `cargo-gocache` binary (store, keys, manifests, build IDs) is
//! compiled only with the `engine` feature, which the binary turns on, in a
//! hidden module that is not part of the API: it changes with the binary,
//! in any release.

#![deny(missing_docs)]

// The engine's modules are `pub` only so that `engine` can re-export them
// (Rust re-exports only public items); hidden, they are no part of the API.
// The binary reaches them through `engine`. Without the `engine` feature
// (a user's build script) none of them is compiled: the library is the
// helper, its client of `cargo-gocache gocache serve-helper`, and the
// rerun lines.

#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod archive;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod compile;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod compiler;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod depfile;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod env;
mod error;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod explain;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod fsutil;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod hash;
mod helper;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod keyline;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod lookup;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod manifest;
#[cfg(feature = "engine")]
mod options;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod pathmap;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod prog;
mod protocol;
mod rerun;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod run;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod settings;
#[cfg(feature = "engine")]
mod sha256;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod stamp;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod stats;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod store;
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod version;

pub use error::{Error, ErrorKind, Result};
pub use helper::CachedBuild;

/// The cache engine shared with the `cargo-gocache` binary (the `engine`
/// feature, which only the binary turns on). **Not public API**: no semver
/// promise; use only through `cargo-gocache`, which pins this crate's exact
/// version.
///
/// The content-addressed [`store`](engine::store), action keys built line by
/// line ([`hash::KeyHasher`](engine::hash::KeyHasher)), depfiles, the
/// compiler's identity, command lines and their keys
/// ([`compile`](engine::compile)), direct mode's header manifests
/// ([`manifest`](engine::manifest)), build IDs in archives
/// ([`archive`](engine::archive)), events ([`stats`](engine::stats)), the
/// serve-tier client of older helpers ([`prog`](engine::prog)), and the
/// messages of the helper protocol ([`helper_protocol`](engine::helper_protocol)).
/// Every environment variable read is listed in [`env`](engine::env).
///
/// A cache must never turn a good build into a failed one: read paths never
/// fail (damage reads as a miss), and callers treat write errors as warnings.
#[cfg(feature = "engine")]
#[doc(hidden)]
pub mod engine {
    pub use crate::hash::{ActionId, KeyHasher, OutputId};
    pub use crate::store::{Entry, Store, Tier, TierKey, TrimPolicy};
    pub use crate::{
        archive, compile, compiler, depfile, env, explain, hash, keyline, lookup, manifest,
        pathmap, prog, run, settings, stamp, stats, store, version,
    };

    /// `cargo:rerun-if-changed` lines (shared with the helper).
    pub mod rerun {
        pub use crate::rerun::*;
    }

    /// The helper protocol's messages (shared with the helper's client).
    pub mod helper_protocol {
        pub use crate::protocol::*;
    }
}

#[cfg(test)]
mod tests {
    /// The build-dependency stays light (ARCHITECTURE.md): every user
    /// compiles this crate's dependencies, so they are `cc` and, only when
    /// the binary asks for it, `sha2`.
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
        let names: Vec<(&str, bool)> = deps
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| {
                let name = l.split(['=', ' ']).next().unwrap();
                (name, l.contains("optional = true"))
            })
            .collect();
        assert_eq!(names, [("cc", false), ("sha2", true)], "{deps}");
    }

    /// What a user's build script compiles (the default features): the
    /// client modules, which use no engine module, in well under 1,000
    /// lines of code (tests, comments and blank lines aside).
    #[test]
    fn the_engine_is_behind_its_feature() {
        let client = [
            ("lib.rs", include_str!("lib.rs")),
            ("helper.rs", include_str!("helper.rs")),
            ("protocol.rs", include_str!("protocol.rs")),
            ("rerun.rs", include_str!("rerun.rs")),
            ("error.rs", include_str!("error.rs")),
        ];
        let engine = [
            "archive", "compile", "compiler", "depfile", "env", "explain", "fsutil", "hash",
            "keyline", "lookup", "manifest", "options", "pathmap", "prog", "run", "settings",
            "sha256", "stamp", "stats", "store", "version",
        ];
        let mut lines = 0;
        for (file, text) in client {
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
            let code: Vec<&str> = code
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("//"))
                .collect();
            lines += code.len();
            if file == "lib.rs" {
                // Every engine module is declared behind the feature.
                for m in engine {
                    let at = code
                        .iter()
                        .position(|l| l.ends_with(&format!("mod {m};")))
                        .unwrap_or_else(|| panic!("no `mod {m};` in lib.rs"));
                    assert!(
                        code[..at]
                            .iter()
                            .rev()
                            .take(2)
                            .any(|l| *l == "#[cfg(feature = \"engine\")]"),
                        "mod {m} is not behind the engine feature"
                    );
                }
                continue;
            }
            for m in engine {
                let used = format!("crate::{m}::");
                assert!(
                    !code.iter().any(|l| l.contains(&used)),
                    "{file} uses the engine module {m}"
                );
            }
        }
        assert!(lines < 1000, "the client is {lines} lines of code");
    }
}
