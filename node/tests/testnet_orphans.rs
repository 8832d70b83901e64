//! `itc testnet` killed with SIGKILL (no chance to stop its children) leaves no node running:
//! each node watches its parent and stops when it is gone.
#![cfg(target_os = "linux")]
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The pids whose parent is `parent`, from /proc.
fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if parent_of(pid) == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// A process's parent pid (`None` once it is gone).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    stat[stat.rfind(')')? + 2..].split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn nodes_of_a_killed_testnet_stop_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = free_port();
    // The testnet's stdin is a pipe its nodes inherit: writing to it fails (broken pipe) exactly
    // when the testnet and every node have exited, an event to wait for instead of polling.
    let mut testnet = Command::new(env!("CARGO_BIN_EXE_itc"))
        .args(["testnet", "--validators", "2", "--no-metrics", "-l", "warn"])
        .args(["--rpc-port", &rpc.to_string(), "--p2p-port", &free_port().to_string()])
        .arg("--base-path")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = testnet.stdin.take().unwrap();
    let (gone_tx, gone) = mpsc::channel();
    std::thread::spawn(move || {
        let block = [0u8; 4096];
        let error = loop {
            if let Err(e) = stdin.write_all(&block) {
                break e;
            }
        };
        let _ = gone_tx.send(error.kind());
    });
    // The testnet prints this line once every node serves RPC.
    let stdout = testnet.stdout.take().unwrap();
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("Ctrl-C stops every node"));
    assert!(started, "the testnet did not start");
    let nodes = children_of(testnet.id());
    assert_eq!(nodes.len(), 2, "expected two node processes, found {nodes:?}");

    testnet.kill().unwrap();
    testnet.wait().unwrap();
    let outcome = gone.recv_timeout(Duration::from_secs(60));
    assert_eq!(outcome, Ok(ErrorKind::BrokenPipe), "nodes {nodes:?} outlived their testnet");
}
