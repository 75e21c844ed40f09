//! A private PostgreSQL cluster for the tests that stop and start their database: `initdb` into
//! a temporary directory, `pg_ctl` on a free port of 127.0.0.1, run as the unprivileged
//! `postgres` user when the tests run as root (PostgreSQL refuses root). It is stopped and its
//! directory removed when dropped; the shared server on 5432 is never touched.
//!
//! The binaries come from `TOKER_TEST_PG_BIN` (a directory), else `PATH`, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use super::{free_port, run, server_dir};

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// uid and gid to run the binaries as (when the tests run as root).
    owner: Option<(u32, u32)>,
}

impl PgCluster {
    /// Creates and starts a cluster; panics with PostgreSQL's own output if it cannot.
    pub async fn start() -> PgCluster {
        tokio::task::spawn_blocking(PgCluster::start_blocking)
            .await
            .expect("initdb task")
    }

    fn start_blocking() -> PgCluster {
        let bin = binaries();
        let (dir, owner) = server_dir("toker-pg-", "postgres");
        let cluster = PgCluster {
            port: free_port(),
            dir,
            bin,
            owner,
        };
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(cluster.data()).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ]);
        run(initdb, "initdb");
        run(cluster.start_command(), "pg_ctl start");
        cluster
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl stop -m fast`: every session is terminated ("terminating connection due to
    /// administrator command") and the server shuts down; returns once it is down.
    pub async fn stop(&self) {
        let cmd = self.ctl(&["-m", "fast", "-w", "-t", "60", "stop"]);
        tokio::task::spawn_blocking(move || run(cmd, "pg_ctl stop"))
            .await
            .expect("pg_ctl task");
    }

    /// Starts the stopped cluster again on the same port; returns once it accepts connections.
    pub async fn restart(&self) {
        let cmd = self.start_command();
        tokio::task::spawn_blocking(move || run(cmd, "pg_ctl start"))
            .await
            .expect("pg_ctl task");
    }

    fn start_command(&self) -> Command {
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        self.ctl(&[
            "-l",
            log.to_str().expect("UTF-8 path"),
            "-o",
            &options,
            "-w",
            "-t",
            "60",
            "start",
        ])
    }

    /// `pg_ctl -D <data> <args>`, as the cluster's owner.
    fn ctl(&self, args: &[&str]) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(args);
        cmd
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(self.dir.path());
        if let Some((uid, gid)) = self.owner {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut cmd = self.ctl(&["-m", "immediate", "-w", "stop"]);
        let _ = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        // Give the postmaster's children a moment to go before the directory is removed.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn binaries() -> PathBuf {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("TOKER_TEST_PG_BIN").map(PathBuf::from) {
        assert!(has_tools(&dir), "TOKER_TEST_PG_BIN has no initdb / pg_ctl");
        return dir;
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_tools(dir))
    {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).expect(
        "PostgreSQL's initdb and pg_ctl were not found: install PostgreSQL or set \
         TOKER_TEST_PG_BIN to the directory that holds them",
    )
}
