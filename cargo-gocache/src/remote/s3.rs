//! The S3 backend: objects `<prefix>/ac/<hex>` and `<prefix>/cas/<hex>` in
//! a bucket of any S3-compatible store (AWS S3, R2, MinIO, Ceph,
//! SeaweedFS, GCS's interoperability API), configured the way every AWS
//! tool is:
//!
//! | variable | use |
//! | --- | --- |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | credentials; none at all: anonymous, read-only (a public bucket) |
//! | `AWS_REGION`, else `AWS_DEFAULT_REGION` | the region signed for (default `us-east-1`) |
//! | `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` | a non-AWS store; its requests are path-style (`<endpoint>/<bucket>/<key>`), AWS's virtual-host style (`<bucket>.s3.<region>.amazonaws.com`) |
//!
//! Requests are signed with AWS Signature V4 as presigned URLs (`rusty-s3`
//! signs, `ureq` sends: no async runtime in a per-compile process). The
//! payload is not signed (`UNSIGNED-PAYLOAD`): what is read is checked by
//! its hash anyway, and what is written is named by it.
//!
//! Answers: 200 a value; 404 `NoSuchKey` none; the rest are failures,
//! counted by the breaker, where a missing bucket and credentials the
//! server does not know or whose signature it rejects are [`Fatal`] (the
//! breaker opens at once), and a `PUT` refused with `AccessDenied` (a
//! read-only identity) is [`WriteRefused`]: reads go on, writes stop for
//! the run.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rusty_s3::actions::{GetObject, PutObject, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};

use super::{Backend, Fatal, RemoteSettings, WriteRefused};

/// Outputs larger than this are not fetched (a bad server cannot make us
/// allocate without bound).
const MAX_VALUE: u64 = 1 << 30;

/// How long a signed URL stays valid: it is used at once, and only once;
/// the margin is for clocks that disagree.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// `s3://BUCKET[/PREFIX]` split into the bucket and the key prefix (empty,
/// or ending in `/`).
pub(super) fn parse_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow!("not an s3:// URL: {url}"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains(['?', '#', '@', ':']) {
        bail!("invalid S3 remote {url}: expected s3://BUCKET[/PREFIX]");
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_string(), prefix))
}

fn aws_var(name: &str) -> Option<String> {
    crate::env::var(name).filter(|v| !v.trim().is_empty())
}

pub(super) struct S3 {
    agent: ureq::Agent,
    bucket: Bucket,
    credentials: Option<Credentials>,
    prefix: String,
    timeout: std::time::Duration,
    /// `s3://bucket/prefix`, for messages (never a signed URL: it carries
    /// a signature valid for [`SIGNED_FOR`]).
    name: String,
}

impl S3 {
    pub(super) fn open(s: &RemoteSettings) -> Result<S3> {
        let (bucket, prefix) = parse_url(&s.url)?;
        let region = aws_var("AWS_REGION")
            .or_else(|| aws_var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let (endpoint, style) =
            match aws_var("AWS_ENDPOINT_URL_S3").or_else(|| aws_var("AWS_ENDPOINT_URL")) {
                Some(e) => (e, UrlStyle::Path),
                None => (
                    format!("https://s3.{region}.amazonaws.com"),
                    UrlStyle::VirtualHost,
                ),
            };
        let endpoint_url = endpoint
            .parse()
            .with_context(|| format!("invalid S3 endpoint {endpoint:?}"))?;
        let b = Bucket::new(endpoint_url, style, bucket.clone(), region)
            .map_err(|e| anyhow!("invalid S3 endpoint {endpoint:?} for bucket {bucket}: {e:?}"))?;
        let credentials = match (
            aws_var("AWS_ACCESS_KEY_ID"),
            aws_var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(key), Some(secret)) => Some(match aws_var("AWS_SESSION_TOKEN") {
                Some(token) => Credentials::new_with_token(key, secret, token),
                None => Credentials::new(key, secret),
            }),
            _ => None,
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(s.timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(S3 {
            agent,
            bucket: b,
            credentials,
            name: format!("s3://{bucket}/{prefix}"),
            prefix,
            timeout: s.timeout,
        })
    }

    fn key(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// The `<Code>` of an S3 error body, if there is one.
fn error_code(body: &mut ureq::Body) -> String {
    let mut text = String::new();
    let _ = body.as_reader().take(64 << 10).read_to_string(&mut text);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_string())
        .unwrap_or_default()
}

/// The failure for an error answer with S3 error code `code`.
fn failure(msg: String, code: &str) -> anyhow::Error {
    match code {
        "NoSuchBucket" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidBucketName" => {
            Fatal(msg).into()
        }
        _ => anyhow!(msg),
    }
}

impl Backend for S3 {
    fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(path);
        let url = GetObject::new(&self.bucket, self.credentials.as_ref(), &key).sign(SIGNED_FOR);
        let mut resp = self.agent.get(url.as_str()).call()?;
        let status = resp.status().as_u16();
        match status {
            200 => Ok(Some(
                resp.body_mut()
                    .with_config()
                    .limit(MAX_VALUE)
                    .read_to_vec()?,
            )),
            _ => {
                let code = error_code(resp.body_mut());
                // A missing bucket is a 404 too: a dead remote, not a miss.
                if status == 404 && code != "NoSuchBucket" {
                    return Ok(None);
                }
                Err(failure(
                    format!("GET {}{path}: HTTP {status} {code}", self.name),
                    &code,
                ))
            }
        }
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let key = self.key(path);
        let url = PutObject::new(&self.bucket, self.credentials.as_ref(), &key).sign(SIGNED_FOR);
        let mut resp = self
            .agent
            .put(url.as_str())
            .config()
            .timeout_global(Some(super::upload_timeout(self.timeout, bytes.len())))
            .build()
            .send(bytes)?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let code = error_code(resp.body_mut());
        let msg = format!("PUT {}{path}: HTTP {status} {code}", self.name);
        if status == 403 && code == "AccessDenied" {
            return Err(WriteRefused(msg).into());
        }
        Err(failure(msg, &code))
    }

    fn can_write(&self) -> bool {
        self.credentials.is_some()
    }

    /// No older gocache reads an S3 remote (it is new with bundles).
    fn bundles(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("s3://b").unwrap(),
            ("b".to_string(), String::new())
        );
        assert_eq!(
            parse_url("s3://b/").unwrap(),
            ("b".to_string(), String::new())
        );
        assert_eq!(
            parse_url("s3://b/team/x/").unwrap(),
            ("b".to_string(), "team/x/".to_string())
        );
        assert!(parse_url("s3://").is_err());
        assert!(parse_url("s3:///p").is_err());
        assert!(parse_url("s3://u:p@b/p").is_err());
    }
}
