//! Secrets stay secret, state is private, and TLS verification means it.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use upgrade_pilot::pg::cluster::ClusterOptions;

const PASSWORD: &str = "Kn0wn-S3cret-7f3a9c";
const DB: &str = "demo_manufacturing";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        out.push(e.path());
        if e.file_type().unwrap().is_dir() {
            walk(&e.path(), out);
        }
    }
}

/// Runs the binary over TCP with password authentication, the password only in PGPASSWORD.
fn run_tcp(env: &Env, port: u16, args: &[&str]) -> std::process::Output {
    let dsn = format!("host=127.0.0.1 port={port} user=postgres sslmode=disable");
    env.run_dsn(&dsn, args, &[("PGPASSWORD", PASSWORD)])
}

#[test]
fn the_password_appears_nowhere_and_state_is_private() {
    let port = free_port();
    let env = Env::with(ClusterOptions {
        tcp_port: Some(port),
        ..Default::default()
    });
    env.exec(
        "postgres",
        &format!("ALTER ROLE postgres PASSWORD '{PASSWORD}'"),
    );
    env.cluster
        .set_hba(&["host all all 127.0.0.1/32 scram-sha-256"])
        .unwrap();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    // Without the password the server refuses: authentication is really on.
    let dsn = format!("host=127.0.0.1 port={port} user=postgres sslmode=disable");
    assert_refused(
        &env.run_dsn(&dsn, &["inspect", "--db", DB], &[]),
        "authentication failed",
    );
    // A password in --dsn is refused before anything runs (it would show in ps).
    assert_refused(
        &env.run_dsn(
            &format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x"),
            &["inspect", "--db", DB],
            &[],
        ),
        "PGPASSWORD",
    );

    // Watch every process's command line while the jobs run (pg_dump, pg_restore, plan commands…).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
                        let line = String::from_utf8_lossy(&c).replace('\0', " ");
                        if line.contains("pg_dump")
                            || line.contains("pg_restore")
                            || line.contains("upgrade-pilot")
                        {
                            seen.insert(line);
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            seen
        })
    };
    let mut outputs = Vec::new();
    for args in [
        vec![
            "test", "--db", DB, "--target", "17.0", "--plan", plan, "--json",
        ],
        vec![
            "report",
            "--db",
            DB,
            "--out",
            env.dir.path().join("report").to_str().unwrap(),
        ],
        vec!["freeze", "--db", DB, "--yes"],
        vec![
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            plan,
            "--json",
        ],
        vec!["restore", "--db", DB, "--yes"],
        vec!["status", "--json"],
    ] {
        let o = run_tcp(&env, port, &args);
        assert_ok(&o);
        outputs.push(o);
    }
    for o in &outputs {
        assert!(
            !stdout(o).contains(PASSWORD) && !stderr(o).contains(PASSWORD),
            "printed the password"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cmdlines = watcher.join().unwrap();
    assert!(
        cmdlines.iter().any(|c| c.contains("pg_dump")),
        "the watcher saw the children: {cmdlines:?}"
    );
    for c in &cmdlines {
        assert!(
            !c.contains(PASSWORD),
            "a command line holds the password: {c}"
        );
    }
    let mut files = Vec::new();
    walk(&env.state_dir(), &mut files);
    walk(&env.dir.path().join("report"), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "log")),
        "logs were written"
    );
    assert!(
        files.iter().any(|f| f.ends_with("toc.dat")
            && f.parent()
                .and_then(|d| d.extension())
                .is_some_and(|e| e == "dumpdir")),
        "the backup was written: {files:?}"
    );
    for f in &files {
        let meta = std::fs::metadata(f).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(
                mode & 0o077,
                0,
                "{} is {mode:o}: others can enter",
                f.display()
            );
        } else {
            assert_eq!(
                mode & 0o077,
                0,
                "{} is {mode:o}: others can read",
                f.display()
            );
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "{} holds the password",
                f.display()
            );
        }
    }
}

fn write_key(path: &std::path::Path, pem: &str) {
    std::fs::write(path, pem).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The server reads its key as the user it runs as.
    if nix::unistd::geteuid().is_root() {
        if let Some(u) = nix::unistd::User::from_name("postgres")
            .unwrap()
            .or(nix::unistd::User::from_name("nobody").unwrap())
        {
            nix::unistd::chown(path, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
}

#[test]
fn tls_verify_full_checks_the_ca_and_the_host_name() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let certs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(certs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ca_for = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    };
    let ca = ca_for("upgrade-pilot test CA");
    let other_ca = ca_for("some other CA");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (crt, keyf) = (
        certs.path().join("server.crt"),
        certs.path().join("server.key"),
    );
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::set_permissions(&crt, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_key(&keyf, &key.serialize_pem());
    std::fs::write(certs.path().join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(certs.path().join("other.crt"), other_ca.pem()).unwrap();

    let port = free_port();
    let env = Env::with(ClusterOptions {
        tcp_port: Some(port),
        settings: vec![
            "ssl = on".into(),
            format!("ssl_cert_file = '{}'", crt.display()),
            format!("ssl_key_file = '{}'", keyf.display()),
        ],
        ..Default::default()
    });
    env.cluster
        .set_hba(&[
            "hostnossl all all 127.0.0.1/32 reject",
            "hostssl all all 127.0.0.1/32 trust",
        ])
        .unwrap();
    env.demo_db(DB);
    let dsn = |host: &str, ca: &str| {
        format!(
            "host={host} port={port} user=postgres sslmode=verify-full sslrootcert={}",
            certs.path().join(ca).display()
        )
    };
    let o = env.run_dsn(
        &dsn("localhost", "ca.crt"),
        &["inspect", "--db", DB, "--json"],
        &[],
    );
    assert_ok(&o);
    assert_eq!(json(&o)["series"], "16.0");
    assert_refused(
        &env.run_dsn(
            &dsn("localhost", "other.crt"),
            &["inspect", "--db", DB],
            &[],
        ),
        "TLS",
    );
    assert_refused(
        &env.run_dsn(&dsn("127.0.0.1", "ca.crt"), &["inspect", "--db", DB], &[]),
        "TLS",
    );
    // require: encrypted without verification, as libpq; the server refuses plain connections.
    assert_ok(&env.run_dsn(
        &format!("host=127.0.0.1 port={port} user=postgres sslmode=require"),
        &["inspect", "--db", DB],
        &[],
    ));
    assert_refused(
        &env.run_dsn(
            &format!("host=127.0.0.1 port={port} user=postgres sslmode=disable"),
            &["inspect", "--db", DB],
            &[],
        ),
        "127.0.0.1",
    );
}
