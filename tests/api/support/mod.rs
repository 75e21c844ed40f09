//! Real parts the tests start beside the app: an SMTP server, upstream servers for the gateway,
//! the `toker` binary itself, and private PostgreSQL and MariaDB servers that tests may stop
//! and start.

pub mod certs;
pub mod mariadb_server;
pub mod pg_cluster;
pub mod serve;
pub mod smtp;
pub mod upstream;

use std::process::Command;

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Runs `cmd` to completion; panics with its output when it fails.
pub fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary directory for a database server's files, owned by the system account `user`
/// when the tests run as root (see `system_user`); with that account's uid and gid.
pub fn server_dir(prefix: &str, user: &str) -> (tempfile::TempDir, Option<(u32, u32)>) {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir");
    let owner = system_user(user);
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown to {user}: {e}"));
    }
    (dir, owner)
}

/// When the tests run as root: the uid and gid of the system account `name`, for database
/// servers that refuse to run as root. `None` when not root (they run as the current user).
pub fn system_user(name: &str) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let euid = std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid());
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(ids.unwrap_or_else(|| {
        panic!("running as root, but there is no `{name}` user to run the database server as")
    }))
}
