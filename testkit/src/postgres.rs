//! A PostgreSQL server of the tests' own: a temporary cluster of Debian's `postgresql` (scripts/setup.sh installs it),
//! listening on one loopback port and gone when dropped. PostgreSQL refuses to run as root, so when the tests do,
//! the cluster belongs to the `postgres` user the package creates. No fallback: without PostgreSQL the test that
//! needs it fails, saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::ports::free_port;

/// A running temporary cluster; stopped (`immediate`) and deleted when dropped.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Set when the cluster runs as another user than the tests (`postgres`, when they run as root).
    run_as: Option<String>,
    /// The server offers TLS with `server.crt` and `server.key` of the cluster's directory.
    tls: bool,
}

impl TempPostgres {
    /// Creates and starts a cluster on a free loopback port ([`TempPostgres::port`]), with the superuser `postgres`
    /// trusted on loopback.
    pub fn start() -> TempPostgres {
        Self::start_with(None)
    }

    /// [`TempPostgres::start`], the server also offering TLS with this certificate chain and key (PEM); connections
    /// without TLS are still taken.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> TempPostgres {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> TempPostgres {
        let port = free_port();
        let bin = server_bin().unwrap_or_else(|| {
            panic!("PostgreSQL's server is missing (no /usr/lib/postgresql/*/bin/initdb): run bash scripts/setup.sh")
        });
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new().prefix("wasmcc-pg").tempdir().expect("a directory for the cluster");
        if let Some(user) = &run_as {
            let owned = Command::new("chown").arg(user).arg(dir.path()).status().expect("running chown");
            assert!(owned.success(), "giving {} to {user}", dir.path().display());
        }
        let pg = TempPostgres { dir, bin, port, run_as, tls: tls.is_some() };
        if let Some((cert, key)) = tls {
            // The server refuses a key that anyone but its owner can read.
            for (name, pem, mode) in [("server.crt", cert, "0644"), ("server.key", key, "0600")] {
                let path = pg.dir.path().join(name);
                std::fs::write(&path, pem).expect("writing the server's TLS files");
                let chmod = Command::new("chmod").arg(mode).arg(&path).status().expect("running chmod");
                assert!(chmod.success());
                if let Some(user) = &pg.run_as {
                    let owned = Command::new("chown").arg(user).arg(&path).status().expect("running chown");
                    assert!(owned.success(), "giving {} to {user}", path.display());
                }
            }
        }
        let data = pg.data();
        let init = pg.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
        assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
        pg.start_server();
        pg
    }

    /// A connection string for database `postgres` (tokio-postgres' key=value form).
    pub fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (`immediate`: as a crash would); [`TempPostgres::restart`] starts it again.
    pub fn stop(&self) {
        let stopped = self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        assert!(stopped.status.success(), "pg_ctl stop failed: {}", String::from_utf8_lossy(&stopped.stderr));
    }

    /// Starts a stopped server again, on the same port and data.
    pub fn restart(&self) {
        self.start_server();
    }

    /// `pg_ctl start`, waiting until the server takes connections. The server's output goes to a log file: left on
    /// pg_ctl's pipes, it would hold them open and this would never return.
    fn start_server(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            let file = |name: &str| self.dir.path().join(name).display().to_string();
            options +=
                &format!(" -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}", file("server.crt"), file("server.key"));
        }
        let log = self.dir.path().join("server.log").display().to_string();
        let started = self.run("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "-t", "60", "start"]);
        let server_log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{server_log}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the server's programs, as the cluster's owner.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.args(args).current_dir(self.dir.path()).output().unwrap_or_else(|e| panic!("running {program:?}: {e}"))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

/// The newest installed server's programs.
fn server_bin() -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut bins: Vec<(u32, PathBuf)> = versions
        .flatten()
        .filter_map(|v| Some((v.file_name().to_str()?.parse().ok()?, v.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| Path::new(bin).join("initdb").is_file())
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    let id = Command::new("id").arg("-u").output().expect("running id");
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}
