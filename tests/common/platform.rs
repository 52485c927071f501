//! The stand-in of Odoo's upgrade platform (`tests/standin/odoo-platform`, read its
//! header for what it mimics and what only the real platform proves), started in
//! a temp dir with its own PostgreSQL (the platform's servers are not the
//! customer's), its HTTPS API on 127.0.0.1 and a real sshd for rsync. Knobs go in
//! its control file; what it received and did is read back from its records.
//! Everything it started ends on Drop.
//!
//! For the client under test: `url`, `ca_file` (the throwaway CA), `ssh_user`
//! (the real platform's user is `odoo`; a non-root sshd can only log in its own
//! user) and `config()` gives them as an `[odoo_platform]` section.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};

pub const STANDIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/standin/odoo-platform");

pub struct Platform {
    /// `https://127.0.0.1:PORT`, the address to configure as `[odoo_platform] url`.
    pub url: String,
    /// The PEM of the CA that signed the stand-in's certificate.
    pub ca_file: PathBuf,
    pub https_port: u16,
    pub ssh_port: u16,
    /// The user the data channel logs in as (the current user).
    pub ssh_user: String,
    /// The sshd's public host key, `ssh-ed25519 AAAA…`.
    pub host_key: String,
    child: Child,
    sshd_pid: i32,
    pub pg: Cluster,
    dir: tempfile::TempDir,
}

/// One HTTP answer of the stand-in.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Platform {
    /// Starts the stand-in with no knobs set.
    pub fn start() -> Platform {
        Self::start_with(json!({}))
    }

    /// Starts the stand-in with these knobs already in its control file.
    pub fn start_with(knobs: Value) -> Platform {
        let pg =
            Cluster::start(ClusterOptions::default()).expect("start the platform's PostgreSQL");
        let dir = tempfile::Builder::new()
            .prefix("upgrade-pilot-platform-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        write_atomic(&root.join("control.json"), &knobs);
        let stderr = std::fs::File::create(root.join("standin.log")).expect("log file");
        let mut cmd = Command::new("python3");
        cmd.arg(STANDIN)
            .arg("serve")
            .arg("--dir")
            .arg(&root)
            .env("PGHOST", pg.socket_dir())
            .env("PGPORT", pg.port.to_string())
            .env("PGUSER", upgrade_pilot::pg::cluster::SUPERUSER)
            .env_remove("PGDATABASE")
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().expect("log file"))
            .stderr(stderr);
        if let Some(bin) = upgrade_pilot::pg::tools::server_bin_dir() {
            cmd.env("STANDIN_PG_BIN", bin);
        }
        // Its own process group, so Drop ends the stand-in and its sshd together.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("start tests/standin/odoo-platform");
        let ready = root.join("ready.json");
        let deadline = Instant::now() + Duration::from_secs(30);
        let info: Value = loop {
            if let Ok(bytes) = std::fs::read(&ready) {
                if let Ok(v) = serde_json::from_slice(&bytes) {
                    break v;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the platform stand-in exited ({status}): {}",
                    std::fs::read_to_string(root.join("standin.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the platform stand-in did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let s = |k: &str| info[k].as_str().expect(k).to_string();
        let n = |k: &str| info[k].as_u64().expect(k);
        Platform {
            url: s("url"),
            ca_file: PathBuf::from(s("ca_file")),
            https_port: n("https_port") as u16,
            ssh_port: n("ssh_port") as u16,
            ssh_user: s("ssh_user"),
            host_key: s("host_key"),
            sshd_pid: n("sshd_pid") as i32,
            child,
            pg,
            dir,
        }
    }

    /// The stand-in's own directory (requests, journal, ssh, tls).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// An `[odoo_platform]` section pointing a client at this stand-in.
    pub fn config(&self) -> String {
        format!(
            "[odoo_platform]\nurl = {:?}\nca_file = {:?}\ndata_user = {:?}\n",
            self.url,
            self.ca_file.display().to_string(),
            self.ssh_user
        )
    }

    // ---- knobs (the stand-in reads them at each use)

    pub fn knobs(&self) -> Value {
        std::fs::read(self.root().join("control.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| json!({}))
    }

    /// Replaces every knob.
    pub fn set_knobs(&self, knobs: Value) {
        write_atomic(&self.root().join("control.json"), &knobs);
    }

    /// Sets one knob, keeping the others.
    pub fn knob(&self, key: &str, value: Value) {
        let mut k = self.knobs();
        k[key] = value;
        self.set_knobs(k);
    }

    pub fn clear_knob(&self, key: &str) {
        let mut k = self.knobs();
        if let Some(map) = k.as_object_mut() {
            map.remove(key);
        }
        self.set_knobs(k);
    }

    // ---- what the stand-in recorded

    /// Every call and event, oldest first.
    pub fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.root().join("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many requests were created (tests assert one per job, never two).
    pub fn requests_created(&self) -> usize {
        self.requests().len()
    }

    /// Every request as the platform keeps it (token included), by id.
    pub fn requests(&self) -> Vec<Value> {
        let mut out: Vec<Value> = std::fs::read_dir(self.root().join("requests"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("request.json")).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by_key(|r: &Value| r["id"].as_u64());
        out
    }

    pub fn request(&self, id: u64) -> Value {
        self.requests()
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no request {id} on the platform"))
    }

    /// The request's `/data`: what was uploaded and what is served for download.
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.root()
            .join("requests")
            .join(id.to_string())
            .join("data")
    }

    /// The directory dump the client uploaded (`/data/origin.dump`).
    pub fn received_dump(&self, id: u64) -> PathBuf {
        self.data_dir(id).join("origin.dump")
    }

    /// Waits (bounded) for a journal entry matching `pred`, and returns it.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.journal().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "the platform never saw {what}; journal: {:#?}",
                self.journal()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until request `id` has status `status`.
    pub fn wait_status(&self, id: u64, status: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.request(id);
            if r["status"] == status {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "request {id} is {} ({}), never {status}; log:\n{}",
                r["status"],
                r["reason"],
                std::fs::read_to_string(self.data_dir(id).join("upgrade.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ---- a bare HTTPS client, to poke the protocol from a test

    /// POSTs a JSON-RPC call the way Odoo's script does; the whole reply body.
    pub fn call(&self, endpoint: &str, params: Value) -> Value {
        let body =
            json!({"jsonrpc": "2.0", "method": "not_used", "params": params, "id": "not_used"});
        self.http(
            "POST",
            &format!("/{endpoint}"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .json()
    }

    /// `call`, expecting a `result` without `error`.
    pub fn result(&self, endpoint: &str, params: Value) -> Value {
        let reply = self.call(endpoint, params);
        let result = reply["result"].clone();
        assert!(
            result.is_object() && result.get("error").is_none(),
            "{endpoint} refused: {reply}"
        );
        result
    }

    /// GET upgrade/request/logs from byte `from` (None: no Range header).
    pub fn logs(&self, token: &str, from: Option<u64>) -> Reply {
        let range = from.map(|n| format!("bytes={n}-"));
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("Range", r.as_str())).collect();
        self.http(
            "GET",
            &format!("/upgrade/request/logs?token={token}"),
            &headers,
            b"",
        )
    }

    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(&self.ca_file).expect("CA file")
        {
            roots.add(cert.expect("CA PEM")).expect("CA cert");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("server name");
        let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
        let tcp = std::net::TcpStream::connect(("127.0.0.1", self.https_port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(60))).ok();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.https_port,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        tls.write_all(req.as_bytes()).expect("send");
        tls.write_all(body).expect("send");
        tls.flush().expect("send");
        read_reply(&mut tls)
    }
}

/// Reads one HTTP/1.1 answer, by its Content-Length (Python's ssl closes without
/// close_notify, so reading to the end would end in an error).
fn read_reply(stream: &mut impl Read) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let (head_end, status, headers) = loop {
        let n = stream.read(&mut chunk).expect("read the reply");
        assert!(n > 0, "the stand-in closed before answering");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).into_owned();
            let mut lines = head.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|s| s.parse().ok())
                .expect("status line");
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect::<Vec<_>>();
            break (pos + 4, status, headers);
        }
    };
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("Content-Length");
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).expect("read the reply body");
        assert!(n > 0, "the reply body was cut");
        buf.extend_from_slice(&chunk[..n]);
    }
    Reply {
        status,
        headers,
        body: buf[head_end..head_end + len].to_vec(),
    }
}

fn write_atomic(path: &Path, v: &Value) {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, v.to_string()).expect("write knobs");
    std::fs::rename(&tmp, path).expect("write knobs");
}

impl Drop for Platform {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
        // sshd is in that group; this is only for a stand-in that died first.
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.sshd_pid)).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&*self.root().to_string_lossy()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.sshd_pid), Signal::SIGKILL);
        }
    }
}
