//! Programs we start (Odoo for a hop or `serve`, a plan's commands) die with us.
//!
//! Ctrl-C and cancellation stop them in order (`plan::stop_group`), and
//! `kill_on_drop` covers an unwinding task; neither runs when we are SIGKILLed
//! (the OOM killer, `kill -9`, a closed cgroup). Then a hop would go on writing
//! a copy nobody follows, and `serve` would keep a test copy open on a port.
//! The kernel's parent-death signal covers that case.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Its own process group (Ctrl-C in our terminal reaches us, not it; we stop
/// its group in order) and SIGKILL when the thread that started it dies.
///
/// The kernel ties the signal to the spawning *thread*: start children from
/// an async task (a runtime worker lives as long as the runtime), never from
/// `spawn_blocking`, whose threads end when idle.
pub fn die_with_us(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    let parent = Pid::this();
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (prctl, getppid), allocating nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // We may have died between fork and prctl: then nobody would signal it.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("parent gone before exec"));
            }
            Ok(())
        })
    };
    cmd.kill_on_drop(true)
}

/// The child's stdout and stderr, line by line, as one stream (in the order
/// they come); it ends once both are closed. `cap` lines may wait unread.
pub fn lines(child: &mut tokio::process::Child, cap: usize) -> tokio::sync::mpsc::Receiver<String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(cap);
    for reader in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child.stderr.take().map(|s| Box::new(s) as _),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send(l).await.is_err() {
                    break;
                }
            }
        });
    }
    rx
}
