//! Worker threads: one per core, pinned, each with its own monoio runtime
//! (io_uring, or epoll where io_uring is unavailable) and its own SO_REUSEPORT
//! listener. Also start-up (bind check, control plane) and graceful shutdown.

mod control;
mod listener;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{serve_connection, Gateway, Worker};
use crate::config::Settings;
use crate::telemetry::Registry;

/// io_uring submission queue entries per worker.
const URING_ENTRIES: u32 = 1024;
/// How often an idle accept loop looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);
/// How often each core publishes its metrics for scrapes on other cores.
const METRICS_PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// How often each core closes expired idle upstream connections.
const POOL_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Which I/O driver the workers run on.
pub fn driver_name() -> &'static str {
    if monoio::utils::detect_uring() {
        "io_uring"
    } else {
        "epoll"
    }
}

/// Run the gateway until SIGINT/SIGTERM and the drain that follows.
pub fn run(settings: Settings) -> Result<(), String> {
    let addr = listener::check_and_resolve(settings.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, shutdown.clone()).map_err(|e| e.to_string())?;
    }
    let workers = settings.workers;
    let registry = Registry::new(workers);
    let driver = driver_name();
    registry.set_build_info(env!("CARGO_PKG_VERSION"), driver);
    let tls = crate::upstream::client_config(settings.extra_ca_file.as_deref())?;
    let gw = Arc::new(Gateway::new(settings, registry, shutdown.clone(), tls));

    let control = control::spawn(gw.clone());
    let cores = match gw.settings.pin_workers {
        true => core_affinity::get_core_ids().unwrap_or_default(),
        false => Vec::new(),
    };
    let mut handles = Vec::with_capacity(workers);
    for index in 0..workers {
        let gw = gw.clone();
        let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
        let handle = std::thread::Builder::new()
            .name(format!("ringbridge-w{index}"))
            .spawn(move || worker_thread(gw, index, addr, core))
            .map_err(|e| e.to_string())?;
        handles.push(handle);
    }
    // Announce only once every worker accepts, so whoever reads this line can connect.
    while gw.workers_ready.load(Ordering::Acquire) < workers
        && !handles.iter().any(|h| h.is_finished())
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    if gw.workers_ready.load(Ordering::Acquire) == workers {
        // Scripts and tests read this line (stdout) to learn the port.
        println!("ringbridge listening on http://{addr}");
    }
    let mut failed = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = Some(e),
            Err(_) => failed = Some("a worker thread panicked".to_string()),
        }
        // One failed worker stops the others.
        shutdown.store(true, Ordering::Relaxed);
    }
    shutdown.store(true, Ordering::Relaxed);
    let _ = control.join();
    match failed {
        Some(e) => Err(e),
        None => {
            tracing::info!("shut down cleanly");
            Ok(())
        }
    }
}

fn worker_thread(
    gw: Arc<Gateway>,
    index: usize,
    addr: std::net::SocketAddr,
    core: Option<core_affinity::CoreId>,
) -> Result<(), String> {
    if let Some(core) = core {
        if !core_affinity::set_for_current(core) {
            tracing::debug!(worker = index, "could not pin to core {}", core.id);
        }
    }
    let mut rt = build_runtime(true)
        .or_else(|_| build_runtime(false))
        .map_err(|e| format!("worker {index}: cannot build the runtime: {e}"))?;
    rt.block_on(async move {
        let listener =
            listener::bind(addr).map_err(|e| format!("worker {index}: bind {addr}: {e}"))?;
        let worker = Rc::new(Worker::new(gw.clone(), index));
        gw.workers_ready.fetch_add(1, Ordering::AcqRel);
        monoio::spawn(housekeeping(worker.clone()));
        accept_loop(&worker, &listener).await;
        drop(listener);
        drain(&worker).await;
        worker.metrics.publish();
        Ok(())
    })
}

type Runtime = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// One worker's runtime. With `cooperative`, io_uring completions are not
/// announced by an interrupt to the thread (IORING_SETUP_COOP_TASKRUN, Linux
/// 5.19+): the worker collects them when it next enters the kernel anyway, which
/// a busy worker does constantly. Older kernels refuse the flag; then the
/// caller builds again without it.
fn build_runtime(cooperative: bool) -> std::io::Result<Runtime> {
    let mut builder =
        monoio::RuntimeBuilder::<monoio::FusionDriver>::new().with_entries(URING_ENTRIES);
    if cooperative {
        let mut uring = io_uring::IoUring::builder();
        uring.setup_coop_taskrun();
        builder = builder.uring_builder(uring);
    }
    builder.enable_timer().build()
}

async fn accept_loop(worker: &Rc<Worker>, listener: &monoio::net::TcpListener) {
    while !worker.gw.shutting_down() {
        // One accept operation lives until it completes: dropping it on io_uring
        // could discard a connection the kernel had already accepted, which would
        // then never be served. The timer only wakes us to look at the flag.
        let accept = listener.accept();
        let mut accept = std::pin::pin!(accept);
        let accepted = loop {
            monoio::select! {
                accepted = &mut accept => break Some(accepted),
                _ = monoio::time::sleep(SHUTDOWN_POLL) => {
                    if worker.gw.shutting_down() {
                        break None;
                    }
                }
            }
        };
        match accepted {
            None => return,
            Some(Ok((stream, _peer))) => {
                monoio::spawn(serve_connection(worker.clone(), stream));
            }
            Some(Err(e)) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                monoio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Let in-flight requests finish, up to the shutdown deadline.
async fn drain(worker: &Worker) {
    let deadline = Instant::now() + worker.gw.settings.limits.shutdown_timeout;
    while worker.active_requests.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = worker.active_requests.get();
    if left > 0 {
        tracing::warn!(
            requests = left,
            "shutdown deadline reached with requests in flight"
        );
    }
}

async fn housekeeping(worker: Rc<Worker>) {
    let mut last_sweep = Instant::now();
    while !worker.gw.shutting_down() {
        monoio::time::sleep(METRICS_PUBLISH_EVERY).await;
        worker.metrics.publish();
        if last_sweep.elapsed() >= POOL_SWEEP_EVERY {
            worker.pools.evict_expired();
            last_sweep = Instant::now();
        }
    }
}
