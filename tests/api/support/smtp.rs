//! A real SMTP server for the mail tests: aiosmtpd (Python, `pip install aiosmtpd`) on a free
//! loopback port, storing every message it receives in a Maildir the test reads back.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Installs aiosmtpd from PyPI the first time a test process needs it, so `cargo test` works on
/// a fresh machine with only Python 3.
fn ensure_aiosmtpd() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let installed = |quiet: bool| {
            let mut cmd = Command::new("python3");
            cmd.args(["-m", "aiosmtpd", "--version"]);
            if quiet {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
            cmd.status().is_ok_and(|s| s.success())
        };
        if installed(true) {
            return;
        }
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd==1.4.6"])
            .status()
            .expect("python3 -m pip: the mail tests need Python 3 with pip");
        assert!(
            status.success() && installed(false),
            "could not install aiosmtpd (`python3 -m pip install aiosmtpd==1.4.6`)"
        );
    });
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd: install it with `pip install aiosmtpd`");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not start on port {port} (is it installed? `pip install aiosmtpd`)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, dir, child }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir").join("new")
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .map(|path| {
                let raw = std::fs::read(&path).expect("read message");
                let msg = mail_parser::MessageParser::default()
                    .parse(&raw)
                    .expect("parse message");
                let addr = |a: Option<&mail_parser::Address>| {
                    a.and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or_default()
                        .to_string()
                };
                Received {
                    to: addr(msg.to()),
                    from: addr(msg.from()),
                    subject: msg.subject().unwrap_or_default().to_string(),
                    text: msg.body_text(0).unwrap_or_default().into_owned(),
                    html: msg.body_html(0).unwrap_or_default().into_owned(),
                }
            })
            .collect()
    }

    /// Waits (briefly) for the `n`th message to arrive.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "expected {n} messages, got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The first URL in a text body.
pub fn first_link(text: &str) -> String {
    let start = text.find("http").expect("a link in the mail");
    text[start..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_string()
}
