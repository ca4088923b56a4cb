//! The Redis backend: `GET`/`SET gocache/<path>` on one blocking connection
//! per process, made on first use.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{redact, Backend, RemoteSettings};

pub(super) struct Redis {
    client: redis::Client,
    conn: Option<Box<redis::Connection>>,
    timeout: Duration,
}

impl Redis {
    pub(super) fn open(s: &RemoteSettings) -> Result<Redis> {
        let client = redis::Client::open(s.url.as_str())
            .with_context(|| format!("invalid Redis URL {}", redact(&s.url)))?;
        Ok(Redis {
            client,
            conn: None,
            timeout: s.timeout,
        })
    }

    /// Run one Redis command on the process's connection (made on first
    /// use); a failed command drops the connection so the next one reconnects.
    fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T> {
        if self.conn.is_none() {
            let c = self.client.get_connection_with_timeout(self.timeout)?;
            c.set_read_timeout(Some(self.timeout))?;
            c.set_write_timeout(Some(self.timeout))?;
            self.conn = Some(Box::new(c));
        }
        let c = self.conn.as_mut().expect("just set");
        cmd.query(c).map_err(|e| {
            self.conn = None;
            e.into()
        })
    }
}

impl Backend for Redis {
    fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(format!("gocache/{path}"));
        self.query(&cmd)
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("gocache/{path}")).arg(bytes);
        self.query(&cmd)
    }
}
