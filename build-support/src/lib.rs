//! gocache's engine: Go's build cache and build IDs for C and C++ compiled
//! in Rust build scripts.
//!
//! This crate is two things:
//!
//! * the **cache engine** shared by the `cargo-gocache` binary: the
//!   content-addressed [`store`], action keys built line by line
//!   ([`hash::KeyHasher`]), depfile reading ([`depfile`]), the compiler's
//!   identity ([`compiler`]), command lines and their keys ([`compile`]),
//!   direct mode's header manifests ([`manifest`]) and the stamp memo that
//!   makes a steady hit cheap ([`filememo`]);
//! * the **build.rs helper** ([`CachedBuild`], see [`helper`]), for crates
//!   that own C code: archive-level caching decided by the [`archive`]'s
//!   build ID.
//!
//! It is a build-dependency of its users, so it depends on `std`, `sha2`
//! and `cc` only.
//!
//! A cache must never turn a good build into a failed one: read paths never
//! fail (damage reads as a miss), and callers treat write errors as warnings.
//! Every environment variable read is listed in [`env`](mod@env).

#![deny(missing_docs)]

pub mod archive;
pub mod compile;
pub mod compiler;
pub mod depfile;
pub mod env;
mod error;
pub mod explain;
pub mod filememo;
pub mod hash;
pub mod helper;
pub mod manifest;
mod options;
pub mod pathmap;
pub mod prog;
pub mod stats;
pub mod store;

pub use error::{Error, ErrorKind, Result};
pub use hash::{ActionId, KeyHasher, OutputId};
pub use helper::CachedBuild;
pub use store::{Entry, Store, Tier, TierKey, TrimPolicy};
