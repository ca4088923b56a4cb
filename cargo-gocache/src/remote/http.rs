//! The HTTP backend: `GET`/`PUT <prefix>/<path>`, as bazel-remote and
//! ccache's HTTP storage serve them (200 a value, 404 none, anything else
//! a failure).

use anyhow::{bail, Result};

use super::{Backend, RemoteSettings};

/// Outputs larger than this are not fetched (a bad server cannot make us
/// allocate without bound).
const MAX_VALUE: u64 = 1 << 30;

pub(super) struct Http {
    agent: ureq::Agent,
    base: String,
    timeout: std::time::Duration,
}

impl Http {
    pub(super) fn open(s: &RemoteSettings) -> Http {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(s.timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Http {
            agent,
            base: s.url.trim_end_matches('/').to_string(),
            timeout: s.timeout,
        }
    }
}

impl Backend for Http {
    fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let base = &self.base;
        let mut resp = self.agent.get(format!("{base}/{path}")).call()?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                resp.body_mut()
                    .with_config()
                    .limit(MAX_VALUE)
                    .read_to_vec()?,
            )),
            404 => Ok(None),
            s => bail!("GET {base}/{path}: HTTP {s}"),
        }
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let base = &self.base;
        let resp = self
            .agent
            .put(format!("{base}/{path}"))
            .config()
            .timeout_global(Some(super::upload_timeout(self.timeout, bytes.len())))
            .build()
            .send(bytes)?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            s => bail!("PUT {base}/{path}: HTTP {s}"),
        }
    }
}
