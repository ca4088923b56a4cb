//! Which builds write to the remote (`remote-write`,
//! `CARGO_GOCACHE_REMOTE_WRITE`).
//!
//! The threat: a shared cache that any build can write to lets the code
//! of an untrusted change (a pull request, a fork, a branch nobody
//! reviewed) put an action entry that the main branch then uses. The
//! store checks that an output is the one an entry names, never that the
//! entry is true: an entry is as trustworthy as whoever wrote it. So by
//! default, in CI, only a push to a protected (or the default) branch
//! writes, and every other build only reads.
//!
//! This is the second lock, not the first: a build script or a test of
//! the untrusted change runs with the job's environment, and with write
//! credentials in it could write to the bucket itself. Give write
//! credentials only to trusted jobs (an OIDC role whose trust policy names
//! the protected branch); `ci-protected` keeps the honest jobs that still
//! have them (a same-repository pull request, a job configured once for
//! every event) from publishing what they built.
//!
//! | value | writes |
//! | --- | --- |
//! | `always` | whenever it has credentials (the default outside CI) |
//! | `never` | never (as `remote-read-only = true`) |
//! | `ci-protected` | only in a trusted CI build (the default in CI: `CI`, `GITHUB_ACTIONS` or `GITLAB_CI` set) |
//!
//! A trusted CI build: on GitHub Actions, `GITHUB_EVENT_NAME=push` to a
//! branch with `GITHUB_REF_PROTECTED=true` or to the repository's default
//! branch (from the event payload, `GITHUB_EVENT_PATH`); on GitLab CI,
//! `CI_COMMIT_REF_PROTECTED=true` in a pipeline that is not a merge
//! request's.

use std::fmt;

use crate::env;

/// The `remote-write` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    Always,
    Never,
    CiProtected,
}

impl WritePolicy {
    pub fn parse(s: &str) -> Result<WritePolicy, String> {
        match s.trim() {
            "always" => Ok(WritePolicy::Always),
            "never" => Ok(WritePolicy::Never),
            "ci-protected" => Ok(WritePolicy::CiProtected),
            _ => Err(format!(
                "invalid value {s:?}: expected \"always\", \"never\" or \"ci-protected\""
            )),
        }
    }

    /// The default: `ci-protected` in CI, `always` elsewhere (a developer
    /// machine writes only if it was given write credentials).
    pub fn default_here() -> WritePolicy {
        if in_ci() {
            WritePolicy::CiProtected
        } else {
            WritePolicy::Always
        }
    }

    /// `CARGO_GOCACHE_REMOTE_WRITE`, or the default; a bad value is the
    /// safe `never` (a compile never fails over a setting; `cargo gocache`
    /// reports it before the build).
    pub fn from_env() -> WritePolicy {
        match env::var("CARGO_GOCACHE_REMOTE_WRITE").filter(|v| !v.trim().is_empty()) {
            Some(v) => WritePolicy::parse(&v).unwrap_or(WritePolicy::Never),
            None => WritePolicy::default_here(),
        }
    }

    /// Does this build write, and why (for `cargo gocache config`)?
    pub fn decide(self) -> (bool, String) {
        match self {
            WritePolicy::Always => (true, "always".into()),
            WritePolicy::Never => (false, "never".into()),
            WritePolicy::CiProtected => match trusted_ci_build() {
                Some(why) => (true, why),
                None => (false, "not a push to a protected branch in CI".into()),
            },
        }
    }

    pub fn writes(self) -> bool {
        self.decide().0
    }
}

impl fmt::Display for WritePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WritePolicy::Always => "always",
            WritePolicy::Never => "never",
            WritePolicy::CiProtected => "ci-protected",
        })
    }
}

/// The environment, as the functions below read it (a map in the tests).
type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

fn real(name: &str) -> Option<String> {
    env::var(name)
}

fn is(var: Vars, name: &str, value: &str) -> bool {
    var(name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

fn set(var: Vars, name: &str) -> bool {
    var(name).is_some_and(|v| !v.trim().is_empty())
}

/// Is this a CI job? (`CI` is set by GitHub Actions, GitLab CI, Buildkite,
/// CircleCI, Travis, Jenkins' plugins...)
pub fn in_ci() -> bool {
    in_ci_with(&real)
}

fn in_ci_with(var: Vars) -> bool {
    (set(var, "CI") && !is(var, "CI", "false") && !is(var, "CI", "0"))
        || is(var, "GITHUB_ACTIONS", "true")
        || is(var, "GITLAB_CI", "true")
}

/// Why this build is trusted to write, or `None`.
pub fn trusted_ci_build() -> Option<String> {
    trusted_ci_build_with(&real)
}

fn trusted_ci_build_with(var: Vars) -> Option<String> {
    if is(var, "GITHUB_ACTIONS", "true") {
        if !is(var, "GITHUB_EVENT_NAME", "push") {
            return None;
        }
        if is(var, "GITHUB_REF_PROTECTED", "true") {
            return Some("GitHub Actions push to a protected branch".into());
        }
        let default = default_branch_of_github_event(&var("GITHUB_EVENT_PATH")?)?;
        let pushed = var("GITHUB_REF")?;
        return (pushed == format!("refs/heads/{default}"))
            .then(|| "GitHub Actions push to the default branch".into());
    }
    if is(var, "GITLAB_CI", "true") {
        let merge_request = is(var, "CI_PIPELINE_SOURCE", "merge_request_event")
            || set(var, "CI_MERGE_REQUEST_IID");
        return (is(var, "CI_COMMIT_REF_PROTECTED", "true") && !merge_request)
            .then(|| "GitLab CI pipeline of a protected branch".into());
    }
    None
}

/// `repository.default_branch` of the event payload GitHub Actions writes
/// for the job (`GITHUB_EVENT_PATH`).
fn default_branch_of_github_event(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let event: serde_json::Value = serde_json::from_str(&text).ok()?;
    event["repository"]["default_branch"]
        .as_str()
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn github_push_to_a_protected_branch_writes_and_a_pull_request_does_not() {
        let gh = [("CI", "true"), ("GITHUB_ACTIONS", "true")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = gh.to_vec();
            all.extend_from_slice(extra);
            trusted_ci_build_with(&vars(&all))
        };
        assert!(in_ci_with(&vars(&gh)));
        assert!(with(&[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_PROTECTED", "true")
        ])
        .is_some());
        assert!(with(&[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_PROTECTED", "false")
        ])
        .is_none());
        assert!(with(&[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF_PROTECTED", "true")
        ])
        .is_none());
        assert!(with(&[("GITHUB_EVENT_NAME", "pull_request_target")]).is_none());
        // An unprotected default branch: from the event payload.
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"repository": {"default_branch": "trunk"}}"#).unwrap();
        let event = event.to_str().unwrap();
        let push_to = |r| {
            with(&[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", event),
                ("GITHUB_REF", r),
            ])
        };
        assert!(push_to("refs/heads/trunk").is_some());
        assert!(push_to("refs/heads/feature").is_none());
    }

    #[test]
    fn gitlab_protected_branch_pipeline_writes_and_a_merge_request_does_not() {
        let t = |pairs: &[(&str, &str)]| trusted_ci_build_with(&vars(pairs)).is_some();
        assert!(t(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
            ("CI_PIPELINE_SOURCE", "push")
        ]));
        assert!(!t(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_REF_PROTECTED", "false")
        ]));
        assert!(!t(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
            ("CI_PIPELINE_SOURCE", "merge_request_event")
        ]));
        assert!(!t(&[("CI_COMMIT_REF_PROTECTED", "true")]), "not GitLab");
    }

    #[test]
    fn outside_ci_nothing_is_trusted_and_the_default_is_always() {
        assert!(!in_ci_with(&vars(&[])));
        assert!(!in_ci_with(&vars(&[("CI", "false")])));
        assert!(trusted_ci_build_with(&vars(&[("GITHUB_REF_PROTECTED", "true")])).is_none());
        assert_eq!(
            WritePolicy::parse("ci-protected"),
            Ok(WritePolicy::CiProtected)
        );
        assert!(WritePolicy::parse("sometimes").is_err());
    }
}
