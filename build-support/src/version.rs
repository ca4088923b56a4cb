//! The formats `cargo-gocache` and `gocache-build` share, and the checks
//! where they meet.
//!
//! The binary links its own copy of this crate, but a build script links
//! the `gocache-build` of its user's `Cargo.lock`, which may be older or
//! newer. Today's helper does not open the store: it asks the binary over
//! the helper protocol, so the one format a build script's library and the
//! binary share is that protocol, checked at its `hello`:
//!
//! * The helper opens with `hello <HELPER_PROTOCOL>` ([`HELPER_PROTOCOL`],
//!   see `gocache_build`'s `helper` module); a server that does not answer
//!   `ok` gets one `cargo:warning` and a plain cc compile, uncached.
//!
//! Older helpers opened the store themselves and reached the remote tier
//! through `serve-tier`; for them the binary keeps what they check:
//!
//! * `cargo gocache` exports [`FORMATS_VAR`] = [`formats`] (with its own
//!   version, for the message) to the build; an older helper compares it
//!   with its own before opening the store. The helper server checks it too
//!   ([`check_env`]): the binary that runs the build and the one serving a
//!   build script must share the store, so on a mismatch the server answers
//!   with this one line and the build script compiles with plain cc.
//!   Unset (a build without `cargo gocache`): no check.
//! * The serve-tier client opens with `hello <PROTOCOL>`; a server that does
//!   not answer `ok` turns the remote tier off for that build script, with
//!   one warning (see [`crate::prog`]).
//!
//! Bump [`STORE_FORMAT`] with any change to what the store holds that an
//! older or newer reader would misread (or salt the key instead, if old
//! entries only need to stop matching); bump [`PROTOCOL`] with any change
//! to the serve-tier requests or answers, [`HELPER_PROTOCOL`] with any
//! change to the helper's.

/// The helper protocol (`serve-helper`), defined with its messages.
pub use crate::protocol::PROTOCOL as HELPER_PROTOCOL;

/// The store's layout and file formats.
pub const STORE_FORMAT: u32 = 1;

/// The serve-tier protocol.
pub const PROTOCOL: u32 = 1;

/// The variable `cargo gocache` hands the build its formats in.
pub const FORMATS_VAR: &str = "CARGO_GOCACHE_FORMATS";

/// This side's formats: `store 1 protocol 1`.
pub fn formats() -> String {
    format!("store {STORE_FORMAT} protocol {PROTOCOL}")
}

/// The (store, protocol) numbers of a [`formats`] string; the rest of the
/// value (the binary's name and version) is for messages only.
fn parse(value: &str) -> Option<(u32, u32)> {
    let mut w = value.split_whitespace();
    let store = (w.next()? == "store").then(|| w.next()?.parse().ok())??;
    let protocol = (w.next()? == "protocol").then(|| w.next()?.parse().ok())??;
    Some((store, protocol))
}

/// Compare the binary's formats (`value` of [`FORMATS_VAR`]) with this
/// library's. `Err` is the one line to print.
pub fn check(value: &str) -> Result<(), String> {
    let ours = (STORE_FORMAT, PROTOCOL);
    if parse(value) == Some(ours) {
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
    fn another_store_format_or_protocol_is_one_line() {
        for other in [
            format!("store {} protocol {PROTOCOL}", STORE_FORMAT + 1),
            format!("store {STORE_FORMAT} protocol {}", PROTOCOL + 1),
            "garbage".to_string(),
            String::new(),
        ] {
            let e = check(&other).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
            assert!(e.contains("compiling without the cache"), "{e}");
        }
    }
}
