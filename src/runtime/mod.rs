//! Worker threads: one per core, pinned, each with its own monoio runtime
//! (io_uring, or epoll where io_uring is unavailable) and its own SO_REUSEPORT
//! listener. Also start-up (bind check, control plane) and graceful shutdown.

mod control;
mod fd_limit;
mod listener;
mod reload;
pub mod store;
mod trace_export;

pub use fd_limit::DEFAULT_MAX_CONNECTIONS;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::serve_connection;
use crate::config::{LoadOptions, Settings};
use crate::telemetry::Registry;
use crate::worker::{Gateway, Worker};

/// io_uring submission queue entries per worker.
const URING_ENTRIES: u32 = 1024;
/// How often an idle accept loop looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);
/// How often each core publishes its metrics for scrapes on other cores.
const METRICS_PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// After the shutdown deadline, how long cut requests get to write their end.
const CUT_GRACE: Duration = Duration::from_secs(1);
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

/// Run the gateway until SIGINT/SIGTERM. `reload_options` are the
/// command-line overrides `settings` was loaded with, applied again on every
/// reload.
pub fn run(mut settings: Settings, reload_options: LoadOptions) -> Result<(), String> {
    let open_files = fd_limit::raise();
    settings.limits.max_connections = Some(fd_limit::max_connections(
        settings.limits.max_connections,
        open_files,
    ));
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
    // SIGHUP reloads the configuration (the control thread serves it); it
    // never stops the process.
    signal_hook::flag::register(signal_hook::consts::SIGHUP, gw.reloads.signal.clone())
        .map_err(|e| e.to_string())?;

    let mut sinks: Vec<Box<dyn store::RowSink>> = Vec::new();
    let mut exporter = None;
    if let Some(otlp) = &gw.config.load().settings.otlp {
        let (sink, thread) = trace_export::start(gw.clone(), otlp)?;
        sinks.push(Box::new(sink));
        exporter = Some(thread);
    }
    let cores = match gw.config.load().settings.pin_workers {
        true => core_affinity::get_core_ids().unwrap_or_default(),
        false => Vec::new(),
    };
    // With fewer workers than cores, the store thread keeps to the cores
    // no worker is pinned to: a batch written there costs no worker a
    // stall (loadtest/bench-governance.sh: 0.91 -> 0.94 of logging off
    // with 1 worker on 2 cores).
    let spare_cores: Vec<usize> = cores.iter().skip(workers).map(|c| c.id).collect();
    let store = store::start(gw.clone(), sinks, spare_cores)?;
    let control = control::spawn(gw.clone(), reload_options);
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
    // The workers are gone: every row they logged is queued. The store
    // thread writes them, syncs spend a last time, and stops.
    gw.store_stop.store(true, Ordering::Release);
    let _ = store.join();
    // The store thread held the exporter's queue: it drains and stops.
    if let Some(exporter) = exporter {
        let _ = exporter.join();
    }
    let _ = control.join();
    match failed {
        Some(e) => Err(e),
        None => {
            tracing::info!("shut down cleanly");
            Ok(())
        }
    }
}

/// Keep the calling thread to these cores (none: leave it to the scheduler).
fn pin_to_cores(cores: &[usize]) {
    if cores.is_empty() {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays within it
    // for ids below CPU_SETSIZE, and the call affects only this thread.
    let failed = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &core in cores {
            if core < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(core, &mut set);
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
    };
    if failed {
        tracing::debug!(?cores, "could not keep the thread to the spare cores");
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
    let mut backoff = AcceptBackoff::default();
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
                backoff.succeeded();
                if worker.gw.capacity.opened() || worker.idle.close_oldest() {
                    monoio::spawn(serve_connection(worker.clone(), stream));
                } else {
                    turn_away(&stream);
                    worker.gw.capacity.closed();
                }
            }
            Some(Err(e)) => {
                // EMFILE and friends: free a descriptor if an idle client holds
                // one, and back off instead of spinning on the error.
                worker.idle.close_oldest();
                monoio::time::sleep(backoff.failed(&e)).await;
            }
        }
    }
}

/// Answer a connection over the limit with a 503 and close it. The send does
/// not wait: a new socket's buffer has room for these few bytes.
fn turn_away(stream: &monoio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    const BODY: &str = "{\"error\":{\"message\":\"the gateway is at its connection limit; retry shortly\",\"type\":\"server_error\",\"param\":null,\"code\":\"service_unavailable\"}}";
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    // SAFETY: a valid buffer of busy.len() bytes; the fd is open for this call.
    unsafe {
        libc::send(
            stream.as_raw_fd(),
            busy.as_ptr().cast(),
            busy.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
}

/// Exponential backoff after failed accepts (10 ms doubling to 1 s), with the
/// failures logged once per [`ACCEPT_LOG_EVERY`] rather than once each.
#[derive(Default)]
struct AcceptBackoff {
    delay_ms: u64,
    unlogged: u64,
    last_log: Option<Instant>,
}

const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

impl AcceptBackoff {
    fn succeeded(&mut self) {
        self.delay_ms = 0;
    }

    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.delay_ms = (self.delay_ms * 2).clamp(10, 1_000);
        self.unlogged += 1;
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= ACCEPT_LOG_EVERY)
        {
            tracing::warn!(error = %e, failures = self.unlogged, retry_in_ms = self.delay_ms, "accept failed");
            self.unlogged = 0;
            self.last_log = Some(Instant::now());
        }
        Duration::from_millis(self.delay_ms)
    }
}

/// Let in-flight requests finish, up to the shutdown deadline; then cut the
/// rest, each ending with an error answer or event, and give them
/// [`CUT_GRACE`] to write it.
async fn drain(worker: &Worker) {
    let deadline = Instant::now() + worker.config().settings.limits.shutdown_timeout;
    while worker.active_requests.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = worker.active_requests.get();
    if left == 0 {
        return;
    }
    worker.drain.cut();
    let cut_deadline = Instant::now() + CUT_GRACE;
    while worker.active_requests.get() > 0 && Instant::now() < cut_deadline {
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    tracing::warn!(
        cut = left,
        unfinished = worker.active_requests.get(),
        "shutdown deadline reached: requests in flight were cut with an error"
    );
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
