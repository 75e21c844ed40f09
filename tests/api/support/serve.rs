//! A real `toker serve` process for the tests that need the binary itself: its startup lines,
//! its log output, several processes on one database.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::sync::mpsc::UnboundedReceiver;

/// A `toker serve` child process, killed when dropped; `log` streams its stderr lines.
pub struct Serve {
    child: Child,
    pub address: String,
    /// Every line logged so far, exactly as written.
    pub lines: Vec<String>,
    log: UnboundedReceiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in toker's `listening on http(s)://127.0.0.1:<port>` log line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line
        .split("listening on http://127.0.0.1:")
        .nth(1)
        .or_else(|| line.split("listening on https://127.0.0.1:").nth(1))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Serve {
    /// Starts `toker serve` on `database_url` (bcrypt cost 4, 1 s batch window, `env` on top)
    /// and waits until it logs the address it listens on.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_toker"));
        cmd.arg("serve");
        Serve::spawn(cmd, database_url, env).await
    }

    /// `start`, with `SIGXFSZ` ignored so that a file size limit set later
    /// (`set_file_size_limit`) makes writes past it fail, as on a full disk, instead of
    /// killing the server.
    pub async fn start_for_disk_limits(database_url: &str, env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(r#"trap '' XFSZ && exec "$0" serve"#)
            .arg(env!("CARGO_BIN_EXE_toker"));
        Serve::spawn(cmd, database_url, env).await
    }

    /// Sets the running server's file size limit (`prlimit`): no file it writes may extend
    /// past `bytes`; `None` lifts the limit.
    pub async fn set_file_size_limit(&self, bytes: Option<u64>) {
        let limit = bytes.map_or("unlimited".to_string(), |b| b.to_string());
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--pid={}", self.child.id()))
            // The soft limit only, so that it can be lifted again without privileges.
            .arg(format!("--fsize={limit}:"));
        tokio::task::spawn_blocking(move || super::run(cmd, "prlimit"))
            .await
            .expect("prlimit task");
    }

    /// The same, with the open-files limit of the process set by `ulimit_args` (`-Sn 256`).
    pub async fn start_with_open_files(
        ulimit_args: &str,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Serve {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("ulimit {ulimit_args} && exec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_toker"));
        Serve::spawn(cmd, database_url, env).await
    }

    /// The process id (`exec` keeps the shell's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `HUP`) with `kill`, as an operator or systemd does.
    pub fn signal(&self, signal: &str) {
        let mut cmd = Command::new("kill");
        cmd.arg(format!("-{signal}")).arg(self.pid().to_string());
        super::run(cmd, "kill");
    }

    /// Waits (up to 60 s) for the process to exit; its status.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "toker did not exit; it logged:\n{}",
                self.drain().await.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn spawn(mut cmd: Command, database_url: &str, env: &[(&str, &str)]) -> Serve {
        cmd.current_dir(std::env::temp_dir())
            .env("TOKER_BIND", "127.0.0.1:0")
            .env("TOKER_DATABASE_URL", database_url)
            .env("TOKER_PASSWORD_COST", "4")
            .env("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "1")
            // Every test process talks from one address: the abuse limits are off unless a
            // test turns them on, as in `helpers::test_settings`.
            .env("TOKER_SIGN_IN_LIMIT_PER_IP", "0")
            .env("TOKER_SIGN_IN_LIMIT_PER_EMAIL", "0")
            .env("TOKER_SIGN_UP_LIMIT_PER_IP", "0")
            .env("TOKER_SIGN_UP_LIMIT_PER_EMAIL", "0")
            .env("TOKER_MAIL_LIMIT_PER_IP", "0")
            .env("TOKER_MAIL_LIMIT_PER_EMAIL", "0")
            .env("TOKER_MAIL_COOLDOWN", "0")
            .env("RUST_LOG", "info")
            // stderr is a pipe here: toker must not colour it, whether or not NO_COLOR is set
            // (CI sets it; the assertions on plain `key=value` text would fail on colour codes).
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn toker serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // Reads stderr to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut serve = Serve {
            child,
            address: String::new(),
            lines: Vec::new(),
            log: rx,
        };
        let line = serve.wait_for_line(|l| listening_port(l).is_some()).await;
        let port = listening_port(&line).expect("a port");
        assert_ne!(
            port, 0,
            "toker serve must log the port it bound, not the configured 0"
        );
        let scheme = if line.contains("https://") {
            "https://localhost"
        } else {
            "http://127.0.0.1"
        };
        serve.address = format!("{scheme}:{port}");
        serve
    }

    /// Waits (up to 60 s) for a log line matching `pred`; panics with the log so far.
    pub async fn wait_for_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = self.log.recv().await {
                self.lines.push(line.clone());
                if pred(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        found.unwrap_or_else(|| {
            panic!(
                "no matching log line; toker logged:\n{}",
                self.lines.join("\n")
            )
        })
    }

    /// Collects whatever has been logged up to now (after a short pause for it to arrive).
    pub async fn drain(&mut self) -> &[String] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(line) = self.log.try_recv() {
            self.lines.push(line);
        }
        &self.lines
    }
}
