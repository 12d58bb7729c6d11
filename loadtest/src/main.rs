//! `mock-provider`: a deterministic OpenAI-shaped upstream for ringbridge's
//! integration and load tests. Hand-written HTTP/1.1 on httparse + monoio,
//! one runtime per worker thread, SO_REUSEPORT listeners. See README.md.

mod bedrock;
mod cohere;
mod conn;
mod eventstream;
mod gemini;
mod oauth;
mod proto;
mod render;
mod responses;
mod sim;
mod stats;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use monoio::net::{ListenerOpts, TcpListener};

use sim::{Defaults, Dist, FailMix};

#[derive(Parser, Debug)]
#[command(
    name = "mock-provider",
    about = "OpenAI-, Anthropic-, Gemini-, Cohere- and Bedrock-shaped mock upstream for ringbridge tests"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Worker threads, each with its own runtime and SO_REUSEPORT listener.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: u16,
    /// Close keep-alive connections idle for this many milliseconds.
    #[arg(long, value_name = "N")]
    idle_close_ms: Option<u64>,
    /// Delay before the response head: fixed:MS | uniform:MIN_MS,MAX_MS |
    /// lognormal:MEDIAN_MS,SIGMA (header x-mock-latency wins).
    #[arg(long, value_name = "DIST", value_parser = Dist::parse)]
    latency: Option<Dist>,
    /// Stream: delay before the first content chunk (header x-mock-ttft wins).
    #[arg(long, value_name = "DIST", value_parser = Dist::parse)]
    ttft: Option<Dist>,
    /// Stream: delay between content chunks (header x-mock-inter-token wins).
    #[arg(long, value_name = "DIST", value_parser = Dist::parse)]
    inter_token: Option<Dist>,
    /// Stream: number of content chunks, one token each (header x-mock-chunks wins).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=proto::MAX_CHUNKS as i64))]
    chunks: u32,
    /// Non-stream completion content size in bytes (header x-mock-body-bytes wins).
    #[arg(long, value_name = "N", value_parser = parse_body_bytes)]
    body_bytes: Option<usize>,
    /// Injected failures: KIND:FRACTION,... with KIND in 500, 502, 503, 429,
    /// reset, close, cut, hang; sum <= 1 (header x-mock-fail-mix wins).
    #[arg(long, value_name = "SPEC", value_parser = FailMix::parse)]
    fail_mix: Option<FailMix>,
    /// Answer every request (except /__stats and /__reset_stats) with this
    /// error status, 400..=599 (x-mock-status, x-mock-fail or a drawn failure wins).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(400..=599))]
    status: Option<u16>,
    /// Seed for the per-worker PRNGs (failure draws, latency samples).
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
}

fn parse_body_bytes(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= proto::MAX_BODY_BYTES)
        .ok_or_else(|| format!("expected a byte count in 0..={}", proto::MAX_BODY_BYTES))
}

fn main() {
    let args = Args::parse();
    let idle = args
        .idle_close_ms
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let defaults: &'static Defaults = Box::leak(Box::new(Defaults {
        latency: args.latency,
        ttft: args.ttft,
        inter_token: args.inter_token,
        chunks: args.chunks,
        body_bytes: args.body_bytes,
        fail_mix: args.fail_mix.unwrap_or_default(),
        status: args.status,
    }));
    let seed = args.seed;
    let (tx, rx) = mpsc::channel::<io::Result<SocketAddr>>();
    let mut addr = args.listen;
    let mut threads = Vec::with_capacity(args.workers as usize);
    for i in 0..args.workers {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("mock-worker-{i}"))
            .spawn(move || {
                sim::seed_worker(seed, u64::from(i));
                worker(addr, idle, defaults, tx)
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => fail(&format!("cannot spawn worker thread: {e}")),
        }
        // Worker 0 binds the requested address; the others reuse its concrete port.
        match rx.recv() {
            Ok(Ok(bound)) => addr = bound,
            Ok(Err(e)) => fail(&format!("cannot listen on {addr}: {e}")),
            Err(_) => fail("worker thread exited during startup"),
        }
    }
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "LISTENING {addr}");
    let _ = out.flush();
    drop(out);
    eprintln!(
        "mock-provider: {} worker(s), driver {}",
        args.workers,
        if monoio::utils::detect_uring() {
            "io_uring"
        } else {
            "epoll (legacy)"
        }
    );
    for t in threads {
        let _ = t.join();
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("mock-provider: {msg}");
    std::process::exit(1);
}

fn worker(
    addr: SocketAddr,
    idle: Option<Duration>,
    defaults: &'static Defaults,
    ready: mpsc::Sender<io::Result<SocketAddr>>,
) {
    let rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .with_entries(1024)
        .enable_timer()
        .build();
    let mut rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    rt.block_on(async move {
        let opts = ListenerOpts::new()
            .reuse_port(true)
            .reuse_addr(true)
            .backlog(4096);
        let listener = match TcpListener::bind_with_config(addr, &opts) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(listener.local_addr());
        drop(ready);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    monoio::spawn(conn::serve(stream, idle, defaults));
                }
                Err(e) => {
                    eprintln!("mock-provider: accept: {e}");
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    });
}
