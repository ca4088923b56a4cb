//! The formats `cargo-gocache` shares with others, and the checks where
//! they meet.
//!
//! * **The helper protocol** ([`HELPER_PROTOCOL`], defined with its
//!   messages in `gocache_build::protocol`): a build script links the
//!   `gocache-build` of its user's `Cargo.lock`, which may be older or newer
//!   than this binary. The helper opens with `hello <HELPER_PROTOCOL>`; a
//!   server that does not answer `ok` gets one `cargo:warning` and a plain
//!   cc compile, uncached.
//! * **The store format** ([`STORE_FORMAT`]): `cargo gocache` exports
//!   [`FORMATS_VAR`] = [`formats`] (with its own version, for the message)
//!   to the build, and the helper's server checks it ([`check_env`]): the
//!   binary that runs the build and the one serving a build script (a
//!   `CARGO_GOCACHE_PROG` set by hand, another `cargo-gocache` first on
//!   `PATH`) must read the store alike, so on a mismatch the server answers
//!   with one line and the build script compiles with plain cc. Unset (a
//!   build without `cargo gocache`): no check.
//!
//! Bump [`STORE_FORMAT`] with any change to what the store holds that an
//! older or newer reader would misread (or salt the key instead, if old
//! entries only need to stop matching), and the helper protocol with any
//! change to its requests or answers.

/// The helper protocol (`serve-helper`), defined with its messages.
pub use gocache_build::protocol::PROTOCOL as HELPER_PROTOCOL;

/// The store's layout and file formats.
pub const STORE_FORMAT: u32 = 1;

/// The variable `cargo gocache` hands the build its formats in.
pub const FORMATS_VAR: &str = "CARGO_GOCACHE_FORMATS";

/// This side's formats: `store 1`.
pub fn formats() -> String {
    format!("store {STORE_FORMAT}")
}

/// The store format of a [`formats`] string; the rest of the value (the
/// binary's name and version) is for messages only.
fn parse(value: &str) -> Option<u32> {
    let mut w = value.split_whitespace();
    (w.next()? == "store").then(|| w.next()?.parse().ok())?
}

/// Compare the binary's formats (`value` of [`FORMATS_VAR`]) with this
/// one's. `Err` is the one line to print.
pub fn check(value: &str) -> Result<(), String> {
    if parse(value) == Some(STORE_FORMAT) {
        return Ok(());
    }
    Err(format!(
        "the cargo-gocache running this build ({}) and the one serving its build \
         script ({} {}) do not share a cache format; compiling without the cache (update \
         one of them so their versions match)",
        value.trim(),
        formats(),
        env!("CARGO_PKG_VERSION"),
    ))
}

/// [`check`] the formats `cargo gocache` set for this build, if it set any.
pub fn check_env() -> Result<(), String> {
    match crate::env::var(FORMATS_VAR) {
        Some(v) => check(&v),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_formats_agree_whatever_the_versions() {
        assert_eq!(check(&formats()), Ok(()));
        assert_eq!(check(&format!("{} cargo-gocache 9.9.9", formats())), Ok(()));
    }

    #[test]
    fn another_store_format_is_one_line() {
        for other in [
            format!("store {}", STORE_FORMAT + 1),
            "garbage".to_string(),
            String::new(),
        ] {
            let e = check(&other).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
            assert!(e.contains("compiling without the cache"), "{e}");
        }
    }
}
