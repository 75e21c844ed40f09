//! A private MariaDB server for the tests that stop and start their database:
//! `mariadb-install-db` into a temporary directory, `mariadbd` on a free port of 127.0.0.1 with
//! its own socket, as the `mysql` user (`--user`) when the tests run as root. Killed and its
//! directory removed when dropped; the shared server on 3306 is never touched.
//!
//! The binaries come from `PATH`, else `/usr/sbin` and `/usr/bin` (where Debian puts them).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};

use super::{free_port, run, server_dir};

pub struct MariaDbServer {
    dir: tempfile::TempDir,
    port: u16,
    as_mysql: bool,
    child: Mutex<Option<Child>>,
}

impl MariaDbServer {
    /// Installs a data directory, starts the server and creates the database `toker`.
    pub async fn start() -> MariaDbServer {
        let server = tokio::task::spawn_blocking(|| {
            let (dir, owner) = server_dir("toker-mariadb-", "mysql");
            let server = MariaDbServer {
                port: free_port(),
                dir,
                as_mysql: owner.is_some(),
                child: Mutex::new(None),
            };
            let mut install = Command::new(binary("mariadb-install-db"));
            install
                .arg("--no-defaults")
                .arg(format!("--datadir={}", server.data().display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ]);
            if server.as_mysql {
                install.arg("--user=mysql");
            }
            run(install, "mariadb-install-db");
            server
        })
        .await
        .expect("install task");
        server.restart().await;
        let admin = Database::connect(server.admin_url())
            .await
            .expect("connect to the private MariaDB");
        admin
            .execute_unprepared("CREATE DATABASE toker")
            .await
            .expect("create database");
        let _ = admin.close().await;
        server
    }

    /// `mysql://root@127.0.0.1:<port>/toker`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/toker", self.port)
    }

    fn admin_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// A normal shutdown (what `mariadb-admin shutdown` sends): every connection is closed and
    /// the server exits; returns once it has.
    pub async fn stop(&self) {
        let admin = Database::connect(self.admin_url())
            .await
            .expect("connect to shut down");
        // The server closes this connection as it goes, so the statement's own result is moot.
        let _ = admin.execute_unprepared("SHUTDOWN").await;
        let child = self.child.lock().unwrap().take();
        if let Some(mut child) = child {
            tokio::task::spawn_blocking(move || child.wait())
                .await
                .expect("wait task")
                .expect("mariadbd exits");
        }
    }

    /// Starts the server (again) on the same port; returns once it accepts connections.
    pub async fn restart(&self) {
        let mut cmd = Command::new(binary("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data().display()))
            .arg(format!("--port={}", self.port))
            .arg(format!(
                "--socket={}",
                self.dir.path().join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                self.dir.path().join("error.log").display()
            ))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=100",
            ])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.as_mysql {
            cmd.arg("--user=mysql");
        }
        let child = cmd.spawn().expect("spawn mariadbd");
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(db) = Database::connect(self.admin_url()).await {
                let _ = db.close().await;
                return;
            }
            let exited = self
                .child
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                panic!("mariadbd did not come up ({exited:?}):\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        let child = self.child.get_mut().ok().and_then(Option::take);
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn binary(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} was not found: install MariaDB's server package"))
}
