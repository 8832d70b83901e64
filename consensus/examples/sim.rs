//! Runs the deterministic PBFT simulator over many seeds.
//!
//! ```text
//! cargo run -p itc-consensus --release --example sim -- --seeds 10000 [--start 0]
//! cargo run -p itc-consensus --release --example sim -- --seed 42      # replay one seed
//! ... -- --seeds 1000 --weak-quorum | --no-fence   # show the checker catches broken rules
//! ```
//! Each failing seed prints what failed and the command that replays it. The last line is
//! `seeds: N, safety violations: V, liveness failures: L`; the exit status is non-zero on failure.
use itc_consensus::sim::{run, SimConfig};

fn arg(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    match args.get(i + 1).map(|v| v.parse::<u64>()) {
        Some(Ok(v)) => Some(v),
        _ => {
            eprintln!("{name} needs a number");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (start, count, verbose) = match arg(&args, "--seed") {
        Some(seed) => (seed, 1, true),
        None => (arg(&args, "--start").unwrap_or(0), arg(&args, "--seeds").unwrap_or(100), false),
    };
    let (mut safety, mut liveness) = (0u64, 0u64);
    let began = std::time::Instant::now();
    for seed in start..start + count {
        let mut cfg = SimConfig::for_seed(seed);
        cfg.debug = verbose && args.iter().any(|a| a == "--debug");
        if args.iter().any(|a| a == "--weak-quorum") {
            // Demonstrates the checker: a 2f quorum must produce safety violations.
            cfg.pbft.unsafe_quorum_for_tests = Some(2 * ((cfg.n - 1) / 3));
            cfg.stop_on_violation = false;
            cfg.liveness_bound_ms = 2_000;
        }
        if args.iter().any(|a| a == "--no-fence") {
            // Demonstrates the checker: restarts without the restart fence must produce false
            // evidence against honest replicas on some seeds.
            cfg.pbft.unsafe_no_restart_fence_for_tests = true;
        }
        let out = run(cfg);
        if verbose {
            println!("{:#?}", out.config);
            println!(
                "committed {}, events {}, max queued {}, end {} ms, view changes {}, evidence {}, \
                 trace {:?}",
                out.committed,
                out.events,
                out.max_queue,
                out.end_ms,
                out.view_changes,
                out.evidence,
                out.trace_hash
            );
        }
        if !out.violations.is_empty() {
            safety += 1;
            println!("seed {seed}: SAFETY {:?}", out.violations);
        }
        if let Some(why) = &out.liveness_failure {
            liveness += 1;
            println!("seed {seed}: LIVENESS {why}");
        }
        if !out.passed() {
            println!("  replay: {}", out.replay_command());
        }
        if !verbose && (seed - start + 1) % 100 == 0 {
            eprintln!("{} seeds in {:.0?}", seed - start + 1, began.elapsed());
        }
    }
    println!("seeds: {count}, safety violations: {safety}, liveness failures: {liveness}");
    if safety + liveness > 0 {
        std::process::exit(1);
    }
}
