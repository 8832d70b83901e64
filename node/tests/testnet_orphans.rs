//! `itc testnet` killed with SIGKILL (no chance to stop its children) leaves no node running:
//! each node watches its parent and stops when it is gone.
#![cfg(target_os = "linux")]
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The pids whose parent is `parent`, from /proc.
fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some((_, ppid)) = state_and_parent(pid) {
            if ppid == parent {
                found.push(pid);
            }
        }
    }
    found
}

/// A process's state letter and parent pid (`None` once it is gone).
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn running(pid: u32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

#[test]
fn nodes_of_a_killed_testnet_stop_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = free_port();
    let mut testnet = Command::new(env!("CARGO_BIN_EXE_itc"))
        .args(["testnet", "--validators", "2", "--no-metrics", "-l", "warn"])
        .args(["--rpc-port", &rpc.to_string(), "--p2p-port", &free_port().to_string()])
        .arg("--base-path")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The testnet prints this line once every node process is spawned.
    let stdout = testnet.stdout.take().unwrap();
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("Ctrl-C stops every node"));
    assert!(started, "the testnet did not start");
    let nodes = children_of(testnet.id());
    assert_eq!(nodes.len(), 2, "expected two node processes, found {nodes:?}");

    // Both nodes are up (their RPC servers listen) before the testnet dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    for port in [rpc, rpc + 1] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "node with RPC port {port} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    testnet.kill().unwrap();
    testnet.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while nodes.iter().any(|pid| running(*pid)) {
        assert!(Instant::now() < deadline, "nodes {nodes:?} outlived their testnet");
        std::thread::sleep(Duration::from_millis(50));
    }
}
