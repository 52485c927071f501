//! The real binary in a pty, its screen read through a terminal emulator (vt100).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

pub struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

/// The real binary in a 30×110 pty, its output fed to a vt100 emulator.
pub type Pty = (
    Box<dyn portable_pty::Child + Send + Sync>,
    Box<dyn Write + Send>,
    Screen,
    Box<dyn portable_pty::MasterPty + Send>,
);

/// The real binary in a 30×110 pty, its output fed to a vt100 emulator.
pub fn spawn(args: &[&str], env: &[(&str, &str)], cwd: &std::path::Path) -> Pty {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 110,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_upgrade-pilot"));
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.cwd(cwd);
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let keys = pair.master.take_writer().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZero::new(30).unwrap(),
        std::num::NonZero::new(110).unwrap(),
        0,
    )));
    let feed = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    // The master is handed back: the terminal lives as long as the caller keeps it.
    (child, keys, Screen { parser }, pair.master)
}

pub fn wait_exit(
    child: &mut Box<dyn portable_pty::Child + Send + Sync>,
) -> portable_pty::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the program did not exit after q"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Screen {
    pub fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits (bounded) until the screen shows something else than `before`.
    pub fn wait_change(&self, before: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.text() == before {
            assert!(
                Instant::now() < deadline,
                "the screen did not change:\n{before}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until the screen shows `needle`.
    pub fn wait_for(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {needle:?}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
