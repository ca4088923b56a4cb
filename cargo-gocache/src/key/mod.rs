//! The key: what an action ID is made of.
//!
//! Every cached action (a C compile, a rustc invocation, a build.rs
//! helper's library) is stored under an [`ActionId`](hash::ActionId), the
//! SHA-256 of typed lines ([`line::KeyLine`]), each naming one input. The
//! lines each kind of action hashes, and what each leaves out and why, are
//! documented where that key is built:
//!
//! | action | pre-key (known before running) | final key | documented at |
//! | --- | --- | --- | --- |
//! | C/C++ compile (wrapper and helper) | compiler identity, arguments, `KEY_ENV`, source | pre-key + every header read, by content | [`crate::cmdline`], [`crate::direct::manifest`] |
//! | rustc | rustc identity, arguments, environment cargo sets, sources | pre-key + dep-info's files, by content | `wrapper::rust::key` |
//! | build.rs helper's archive | the sources' final keys, cc's archiver | (one key) | `commands::serve_helper` |
//!
//! Rooms:
//! * [`hash`]: `ActionId`, `OutputId`, `KeyHasher` (the line-by-line
//!   SHA-256, with `CARGO_GOCACHE_DEBUG=hash`);
//! * [`line`]: every line's one rendering and parsing, which `explain`
//!   reads back;
//! * [`pathmap`]: relocation, machine directories mapped to stable names;
//! * [`compiler`]: the C compiler's identity (memoised, stamped);
//! * [`native`]: what `-march=native` and `-C target-cpu=native` resolve
//!   to on this machine (memoised per compiler and CPU).

pub mod compiler;
pub mod hash;
pub mod line;
pub mod native;
pub mod pathmap;
