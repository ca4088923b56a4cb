//! The result record: every output file of a compile, its stdout, stderr
//! and dep-info, stored under the final key (layout in the parent module).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct OutFile {
    pub(super) id: OutputId,
    pub(super) size: u64,
    pub(super) mode: u32,
    pub(super) name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    pub(super) secs: f64,
    pub(super) stdout: (OutputId, u64),
    pub(super) stderr: (OutputId, u64),
    pub(super) depinfo: (OutputId, u64, String),
    pub(super) outs: Vec<OutFile>,
}

impl Record {
    pub(super) fn render(&self) -> String {
        let mut s = format!("{RECORD_HEADER}\nsecs {:.3}\n", self.secs);
        s.push_str(&format!("stdout {} {}\n", self.stdout.0, self.stdout.1));
        s.push_str(&format!("stderr {} {}\n", self.stderr.0, self.stderr.1));
        s.push_str(&format!(
            "depinfo {} {} {}\n",
            self.depinfo.0, self.depinfo.1, self.depinfo.2
        ));
        for o in &self.outs {
            s.push_str(&format!(
                "out {} {} {:o} {}\n",
                o.id, o.size, o.mode, o.name
            ));
        }
        s
    }

    pub(super) fn parse(text: &str) -> Option<Record> {
        let mut l = text.lines();
        if l.next()? != RECORD_HEADER {
            return None;
        }
        let secs = l.next()?.strip_prefix("secs ")?.parse().ok()?;
        let mut pair = |name: &str| -> Option<(OutputId, u64, String)> {
            let rest = l.next()?.strip_prefix(name)?.strip_prefix(' ')?;
            let mut f = rest.splitn(3, ' ');
            let id = OutputId::from_hex(f.next()?)?;
            let size = f.next()?.parse().ok()?;
            Some((id, size, f.next().unwrap_or("").to_string()))
        };
        let (a, b, _) = pair("stdout")?;
        let (c, d, _) = pair("stderr")?;
        let depinfo = pair("depinfo")?;
        let mut outs = Vec::new();
        for line in l {
            let rest = line.strip_prefix("out ")?;
            let mut f = rest.splitn(4, ' ');
            outs.push(OutFile {
                id: OutputId::from_hex(f.next()?)?,
                size: f.next()?.parse().ok()?,
                mode: u32::from_str_radix(f.next()?, 8).ok()?,
                name: f.next()?.to_string(),
            });
        }
        if depinfo.2.is_empty()
            || depinfo.2.contains('/')
            || outs.iter().any(|o| o.name.contains('/'))
        {
            return None;
        }
        Some(Record {
            secs,
            stdout: (a, b),
            stderr: (c, d),
            depinfo,
            outs,
        })
    }
}

pub(super) fn entry_of(action: ActionId, id: OutputId, size: u64) -> Entry {
    Entry {
        action,
        output: id,
        size,
        time_nanos: 0,
    }
}

/// Write `bytes` to `path` atomically with `mode` (temp file beside it,
/// then rename over whatever was there).
pub(super) fn place_bytes(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().context("output without a directory")?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let tmp = dir.join(format!(
        ".gocache-{}-{nanos:x}-{}",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let result = (|| -> Result<()> {
        let mut f = fs::File::create_new(&tmp)
            .with_context(|| format!("failed to create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("failed to write {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))
                .with_context(|| format!("failed to chmod {}", tmp.display()))?;
        }
        drop(f);
        fs::rename(&tmp, path).with_context(|| format!("failed to place {}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(super) fn replay(stdout: &[u8], stderr: &[u8]) {
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
}
