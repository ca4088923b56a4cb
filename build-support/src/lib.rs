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
//! user's cache directory; `CARGO_GOCACHE_DIR=off` turns it off). Under
//! `cargo gocache` with a remote cache configured, the build script reaches
//! the remote through the installed `cargo-gocache` binary.
//!
//! This crate is a build-dependency of its users, so it depends on `std`,
//! `sha2` and `cc` only, and its public API is this page. The cache engine
//! it shares with the `cargo-gocache` binary (store, keys, manifests, build
//! IDs) sits in a hidden module that is not part of the API: it changes with
//! the binary, in any release.

#![deny(missing_docs)]

// The engine's modules are `pub` only so that `engine` can re-export them
// (Rust re-exports only public items); hidden, they are no part of the API.
// The binary reaches them through `engine`.

#[doc(hidden)]
pub mod archive;
#[doc(hidden)]
pub mod compile;
#[doc(hidden)]
pub mod compiler;
#[doc(hidden)]
pub mod depfile;
#[doc(hidden)]
pub mod env;
mod error;
#[doc(hidden)]
pub mod explain;
#[doc(hidden)]
pub mod hash;
mod helper;
#[doc(hidden)]
pub mod keyline;
#[doc(hidden)]
pub mod lookup;
#[doc(hidden)]
pub mod manifest;
#[doc(hidden)]
pub mod pathmap;
#[doc(hidden)]
pub mod prog;
#[doc(hidden)]
pub mod rerun;
#[doc(hidden)]
pub mod run;
#[doc(hidden)]
pub mod stamp;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod store;
#[doc(hidden)]
pub mod version;

pub use error::{Error, ErrorKind, Result};
pub use helper::CachedBuild;

/// The cache engine shared with the `cargo-gocache` binary. **Not public
/// API**: no semver promise; use only through `cargo-gocache`, which pins
/// this crate's exact version.
///
/// The content-addressed [`store`](engine::store), action keys built line by
/// line ([`hash::KeyHasher`](engine::hash::KeyHasher)), depfiles, the
/// compiler's identity, command lines and their keys
/// ([`compile`](engine::compile)), direct mode's header manifests
/// ([`manifest`](engine::manifest)), build IDs in archives
/// ([`archive`](engine::archive)), events ([`stats`](engine::stats)), the
/// remote tier protocol for build scripts ([`prog`](engine::prog)). Every
/// environment variable read is listed in [`env`](engine::env).
///
/// A cache must never turn a good build into a failed one: read paths never
/// fail (damage reads as a miss), and callers treat write errors as warnings.
#[doc(hidden)]
pub mod engine {
    pub use crate::hash::{ActionId, KeyHasher, OutputId};
    pub use crate::store::{Entry, Store, Tier, TierKey, TrimPolicy};
    pub use crate::{
        archive, compile, compiler, depfile, env, explain, hash, keyline, lookup, manifest,
        pathmap, prog, rerun, run, stamp, stats, store, version,
    };
}
