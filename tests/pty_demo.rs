//! End to end through a real terminal: `upgrade-pilot demo` in a pty, keys
//! typed, the screen read through a terminal emulator (vt100).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits (bounded) until the screen shows `needle`.
    fn wait_for(&self, needle: &str, secs: u64) -> String {
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

#[test]
fn demo_runs_a_test_upgrade_from_the_keyboard() {
    let home = tempfile::tempdir().unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 110,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_upgrade-pilot"));
    cmd.arg("demo");
    cmd.env("HOME", home.path());
    cmd.env("TERM", "xterm-256color");
    cmd.cwd(home.path());
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut keys = pair.master.take_writer().unwrap();
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
    let screen = Screen { parser };

    let first = screen.wait_for("Enter start the test upgrade", 60);
    assert!(first.contains("demo_manufacturing"), "{first}");
    assert!(first.contains("2 custom module(s)"), "{first}");
    let server_dir = first
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/upgrade-pilot-pg-") || w.contains("upgrade-pilot-pg-"))
        .map(|w| w.split("/.s.").next().unwrap().to_string())
        .expect("the server's socket shows in the databases pane");
    assert!(std::path::Path::new(&server_dir).is_dir(), "{server_dir}");

    keys.write_all(b"?").unwrap();
    screen.wait_for("Keys (Esc closes)", 10);
    keys.write_all(b"\x1b").unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let Esc stand alone, not as Alt+key
    keys.write_all(b"\r").unwrap();
    let ready = screen.wait_for("Test database ready", 120);
    assert!(ready.contains("demo_manufacturing_test_17.0_"), "{ready}");
    assert!(ready.contains("no link to production"), "{ready}");

    keys.write_all(b"q").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "demo did not exit after q");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&server_dir).exists(),
        "the demo server's directory {server_dir} is removed on exit"
    );
}
