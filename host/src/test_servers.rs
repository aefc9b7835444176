//! Real servers for tests, started on a free loopback port and killed on drop: moto's S3
//! server (from the project's `.venv`) and Debian's redis-server.
//!
//! A test whose server binary is missing prints why and skips, unless
//! `VOXGATE_REQUIRE_TEST_SERVERS=1` is set (as `make test` does), which turns the skip
//! into a failure. `make setup` installs both binaries.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to pass its readiness probe. moto imports Flask and boto
/// first, which took up to 2 s on a loaded 2-core machine; the margin covers heavier load.
/// This bounds a hung start, it is not a performance check.
const START_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A child process, killed and reaped on drop.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    pub addr: SocketAddr,
    /// Holds the server's working folder and log until the server is gone.
    pub workdir: tempfile::TempDir,
}

impl ServerProcess {
    /// Reads the server's combined stdout and stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.workdir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Kill by this child's own id only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {} on {}", self.name, self.addr);
    }
}

/// Starts moto's S3 server with one empty bucket, or returns `None` (after saying why)
/// when the binary is missing and servers are not required.
pub fn start_moto(bucket: &str) -> Option<ServerProcess> {
    let binary = std::env::var_os("VOXGATE_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server"));
    if !binary.is_file() {
        skip_or_fail("moto_server", &binary.display().to_string());
        return None;
    }

    let server = start("moto_server", &binary, |port| {
        vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()]
    }, |addr| http_status(addr, "GET", "/moto-api/") == Some(200));

    // moto keeps state in memory, so each start needs its bucket created again. It
    // accepts unsigned requests.
    let status = http_status(server.addr, "PUT", &format!("/{bucket}"));
    assert_eq!(status, Some(200), "moto_server did not create bucket {bucket}; log:\n{}", server.log());
    Some(server)
}

/// Starts redis-server without persistence, or returns `None` (after saying why) when the
/// binary is missing and servers are not required.
pub fn start_redis() -> Option<ServerProcess> {
    let binary = std::env::var_os("VOXGATE_REDIS_SERVER").map(PathBuf::from).or_else(|| find_in_path("redis-server"));
    let Some(binary) = binary.filter(|binary| binary.is_file()) else {
        skip_or_fail("redis-server", "redis-server on PATH");
        return None;
    };

    let server = start("redis-server", &binary, |port| {
        // Arguments only, so Debian's /etc/redis/redis.conf is not read.
        ["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no", "--daemonize", "no"]
            .iter()
            .map(|arg| arg.to_string())
            .collect()
    }, redis_ping);
    Some(server)
}

fn skip_or_fail(name: &str, looked_for: &str) {
    let message = format!("{name} not found ({looked_for}); run `make setup` to install it");
    if std::env::var("VOXGATE_REQUIRE_TEST_SERVERS").is_ok_and(|value| value == "1") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
}

/// Starts `binary` on a free port and waits until `ready` returns true. A port taken by
/// someone else between choosing and binding makes the server exit; then another port is
/// tried.
fn start(
    name: &'static str,
    binary: &Path,
    args: impl Fn(u16) -> Vec<String>,
    ready: impl Fn(SocketAddr) -> bool,
) -> ServerProcess {
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let addr = free_loopback_addr();
        let workdir = tempfile::tempdir().expect("create a folder for the test server");
        let log = std::fs::File::create(workdir.path().join("server.log")).expect("create the server log");
        let child = Command::new(binary)
            .args(args(addr.port()))
            .current_dir(workdir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {}: {error}", binary.display()));
        let mut server = ServerProcess { name, child, addr, workdir };

        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if ready(addr) {
                eprintln!("started {name} on {addr}");
                return server;
            }
            if let Ok(Some(_status)) = server.child.try_wait() {
                break;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        last_log = server.log();
        drop(server);
    }
    panic!("{name} did not become ready; last log:\n{last_log}");
}

fn free_loopback_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("read the bound address")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Sends a bodiless HTTP/1.0 request and returns the status code, or `None` when nothing
/// responds.
pub fn http_status(addr: SocketAddr, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let status_line = String::from_utf8_lossy(&response);
    status_line.split_whitespace().nth(1)?.parse().ok()
}

fn redis_ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
