//! Why a lookup missed, as data: kept in the run's events
//! ([`crate::stats::Event::miss`]) and shown by `explain`.
//!
//! A lookup (the wrapper's, or the build.rs helper's) either finds a result
//! or misses for one of the reasons below, decided where the lookup
//! decides it, never inferred afterwards.

use std::fmt;

/// Why a lookup found nothing to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissReason {
    /// No manifest for the pre-key: these inputs were never compiled here
    /// (or their manifest was trimmed).
    NoEntry,
    /// The manifest or the result record is there but does not parse.
    EntryDamaged,
    /// A header set matched, but its result (the record or an output) is
    /// missing or fails its size and hash check.
    OutputMissing,
    /// The remote tier answered, and the store rejected the answer (wrong
    /// size, hash or format).
    RemoteRejected,
    /// The manifest lists header sets, and none of them holds on disk now
    /// (a header changed, or one appeared where the compiler searches).
    NoHeaderSetMatched,
}

impl MissReason {
    /// Every reason, for tests and docs.
    pub const ALL: [MissReason; 5] = [
        MissReason::NoEntry,
        MissReason::EntryDamaged,
        MissReason::OutputMissing,
        MissReason::RemoteRejected,
        MissReason::NoHeaderSetMatched,
    ];

    /// The reason as written in event logs (`no-entry`...).
    pub fn name(self) -> &'static str {
        match self {
            MissReason::NoEntry => "no-entry",
            MissReason::EntryDamaged => "entry-damaged",
            MissReason::OutputMissing => "output-missing",
            MissReason::RemoteRejected => "remote-rejected",
            MissReason::NoHeaderSetMatched => "no-header-set-matched",
        }
    }

    /// The reason from its [`MissReason::name`].
    pub fn from_name(name: &str) -> Option<MissReason> {
        MissReason::ALL.into_iter().find(|r| r.name() == name)
    }

    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            MissReason::NoEntry => "no entry for these inputs",
            MissReason::EntryDamaged => "the entry for these inputs is damaged",
            MissReason::OutputMissing => {
                "a header set matched, but its output is missing or damaged"
            }
            MissReason::RemoteRejected => "the remote's answer was rejected",
            MissReason::NoHeaderSetMatched => "no header set of these inputs matched",
        }
    }
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in MissReason::ALL {
            assert_eq!(MissReason::from_name(r.name()), Some(r));
        }
        assert_eq!(MissReason::from_name("-"), None);
    }
}
