//! A closed-loop HTTP/1.1 load generator for `cargo xtask bench`.
//!
//! N keep-alive TCP connections send the same prepared request again and again for a fixed
//! duration: each sends its next request only when the previous response has been read
//! completely (closed loop), so the figures are the server's throughput and latency, not a
//! queue's. Every run is bounded by its duration and stops by itself (or once a given number of
//! requests has been sent, whichever comes first); a connection that fails reconnects, and the
//! failure is counted as an error.
//!
//! All connections share one thread and one event loop (a current-thread tokio runtime), as
//! `wrk` does: the generator runs on the same cores as the server, and a thread per connection
//! spent a third of a core on being woken (one futex wake-up and two context switches per
//! request, which the kernel charged largely to the server's `writev`). Its own CPU time per
//! request is reported beside the server's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take before the connection is abandoned as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most response headers the generator reads.
const MAX_RESPONSE_HEADERS: usize = 32;

/// The largest response the generator accepts (headers and body).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One prepared request and how to judge its response.
#[derive(Clone)]
pub struct Workload {
    /// The full request bytes (request line, headers, body), sent as is.
    pub request: Vec<u8>,
    /// The status a correct response has.
    pub expected_status: u16,
    /// Text a correct response body contains.
    pub expected_body: Option<String>,
}

impl Workload {
    /// A request with the given method, path, extra headers and body, for `host`.
    pub fn new(
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        expected_status: u16,
    ) -> Self {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        Self {
            request,
            expected_status,
            expected_body: None,
        }
    }

    /// Also requires the response body to contain `text`.
    pub fn expecting_body(mut self, text: &str) -> Self {
        self.expected_body = Some(text.to_owned());
        self
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Responses that matched the expectation.
    pub successes: u64,
    /// Wrong statuses, wrong bodies, I/O failures.
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latencies of successful requests, sorted ascending, in microseconds.
    pub latencies_micros: Vec<u64>,
    /// The first error seen, to explain a non-zero count.
    pub first_error: Option<String>,
    /// The generator's own CPU time (user + system) during the run.
    pub generator_cpu: Option<Duration>,
}

impl LoadReport {
    /// Successful requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.successes as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The latency at quantile `q` (0.0–1.0), in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        if self.latencies_micros.is_empty() {
            return 0.0;
        }
        let last = self.latencies_micros.len() - 1;
        let index = ((last as f64) * quantile).round() as usize;
        self.latencies_micros[index.min(last)] as f64 / 1000.0
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The run stops after this long whatever else happens.
    pub duration: Duration,
    /// And once this many requests have been sent, if given.
    pub requests: Option<u64>,
}

/// Runs `workload` against `address` over `connections` connections until `limit`.
pub fn run(
    address: SocketAddr,
    workload: &Workload,
    connections: usize,
    limit: Limit,
) -> Result<LoadReport> {
    if connections == 0 {
        bail!("at least one connection is needed");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's event loop")?;
    let workload = Arc::new(workload.clone());
    let budget = Arc::new(AtomicU64::new(limit.requests.unwrap_or(u64::MAX)));
    let cpu_before = thread_cpu_time();
    let started = Instant::now();
    let deadline = started + limit.duration;
    let parts = runtime.block_on(async {
        let drivers: Vec<_> = (0..connections)
            .map(|_| {
                let workload = Arc::clone(&workload);
                let budget = Arc::clone(&budget);
                tokio::spawn(async move {
                    drive_connection(address, &workload, deadline, &budget).await
                })
            })
            .collect();
        let mut parts = Vec::with_capacity(drivers.len());
        for driver in drivers {
            parts.push(driver.await);
        }
        parts
    });
    let mut report = LoadReport {
        elapsed: started.elapsed(),
        generator_cpu: cpu_before
            .zip(thread_cpu_time())
            .map(|(before, after)| after.saturating_sub(before)),
        ..LoadReport::default()
    };
    for part in parts {
        let part = part.map_err(|_| anyhow::anyhow!("a load connection panicked"))?;
        report.successes += part.successes;
        report.errors += part.errors;
        report.latencies_micros.extend(part.latencies_micros);
        if report.first_error.is_none() {
            report.first_error = part.first_error;
        }
    }
    report.latencies_micros.sort_unstable();
    Ok(report)
}

/// Takes one request from the shared budget; false once it is spent.
fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

/// One connection and the bytes read from it but not yet consumed.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// One connection's loop until the deadline or the end of the request budget.
async fn drive_connection(
    address: SocketAddr,
    workload: &Workload,
    deadline: Instant,
    budget: &AtomicU64,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut connection: Option<Connection> = None;
    while Instant::now() < deadline && take_one(budget) {
        let open = match &mut connection {
            Some(open) => open,
            None => match connect(address).await {
                Ok(open) => connection.insert(open),
                Err(error) => {
                    record_error(&mut report, format!("connect: {error:#}"));
                    // Back off briefly so a dead server is not hammered in a tight loop.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, exchange(open, workload)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!(
                "no complete response within {} s",
                REQUEST_TIMEOUT.as_secs()
            )),
        };
        match outcome {
            Ok(()) => {
                report.successes += 1;
                report
                    .latencies_micros
                    .push(sent.elapsed().as_micros() as u64);
            }
            Err(error) => {
                record_error(&mut report, format!("{error:#}"));
                connection = None;
            }
        }
    }
    report
}

fn record_error(report: &mut LoadReport, message: String) {
    report.errors += 1;
    if report.first_error.is_none() {
        report.first_error = Some(message);
    }
}

async fn connect(address: SocketAddr) -> Result<Connection> {
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(address))
        .await
        .context("connect timed out")??;
    stream.set_nodelay(true)?;
    Ok(Connection {
        stream,
        buffer: Vec::with_capacity(16 * 1024),
    })
}

/// A parsed response head: status, body length, and whether the server will close.
struct Head {
    status: u16,
    length: usize,
    content_length: usize,
    close: bool,
}

/// Parses the response head at the start of `buffer`; `None` while it is incomplete.
fn parse_head(buffer: &[u8]) -> Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buffer).context("malformed response head")? {
        httparse::Status::Complete(length) => length,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.context("response without a status")?;
    let mut content_length = None;
    let mut close = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|value| value.trim().parse::<usize>().ok());
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = header.value.eq_ignore_ascii_case(b"close");
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked responses are not supported by the load generator");
        }
    }
    Ok(Some(Head {
        status,
        length,
        content_length: content_length.context("response without content-length")?,
        close,
    }))
}

/// Reads more of the response into the connection's buffer; fails at end of stream.
async fn fill(connection: &mut Connection, what: &str) -> Result<()> {
    if connection.buffer.len() >= MAX_RESPONSE_BYTES {
        bail!("response larger than {MAX_RESPONSE_BYTES} bytes");
    }
    if connection.buffer.capacity() == connection.buffer.len() {
        connection.buffer.reserve(16 * 1024);
    }
    if connection.stream.read_buf(&mut connection.buffer).await? == 0 {
        bail!("connection closed by the server {what}");
    }
    Ok(())
}

/// Sends the request and reads one whole response, checking it.
async fn exchange(connection: &mut Connection, workload: &Workload) -> Result<()> {
    connection.stream.write_all(&workload.request).await?;
    let head = loop {
        if let Some(head) = parse_head(&connection.buffer)? {
            break head;
        }
        let what = if connection.buffer.is_empty() {
            "before answering"
        } else {
            "inside the headers"
        };
        fill(connection, what).await?;
    };
    let end = head.length + head.content_length;
    while connection.buffer.len() < end {
        fill(connection, "inside the body").await?;
    }
    let body = &connection.buffer[head.length..end];
    let checked = check(&head, body, workload);
    connection.buffer.drain(..end);
    checked?;
    if head.close {
        bail!("server closed the keep-alive connection");
    }
    Ok(())
}

/// Whether a response's status and body are the expected ones.
fn check(head: &Head, body: &[u8], workload: &Workload) -> Result<()> {
    if head.status != workload.expected_status {
        bail!(
            "status {}, expected {}: {}",
            head.status,
            workload.expected_status,
            String::from_utf8_lossy(body)
        );
    }
    if let Some(expected) = &workload.expected_body
        && !String::from_utf8_lossy(body).contains(expected.as_str())
    {
        bail!("body lacks {expected:?}: {}", String::from_utf8_lossy(body));
    }
    Ok(())
}

/// The calling thread's CPU time so far (user + system), from `/proc/thread-self/schedstat`
/// (nanoseconds on the CPU), which counts the load generator's event loop alone.
fn thread_cpu_time() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The peak resident set size of a process (`VmHWM`), in KiB, from `/proc`.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// The resident set size of a process now (`VmRSS`), in KiB, from `/proc`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// A `FIELD: N kB` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time a process has used so far (user + system), from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing ')' are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // utime and stime are fields 14 and 15 overall, 12th and 13th after the name.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (user + system) as f64 / CLOCK_TICKS_PER_SECOND,
    ))
}

/// The kernel's `USER_HZ`: 100 on every Linux this runs on (`getconf CLK_TCK`).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// The machine's CPU time so far, all CPUs together, and the part of it the hypervisor took for
/// other guests (`steal`), in clock ticks, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineTicks {
    /// Every state's ticks summed.
    pub total: u64,
    /// Ticks stolen by the hypervisor.
    pub steal: u64,
}

impl MachineTicks {
    /// Reads `/proc/stat` now.
    pub fn now() -> Option<MachineTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|line| line.starts_with("cpu "))?;
        let values: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|value| value.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal guest guest_nice: guest time is
        // already counted in user, so only the first eight are summed.
        Some(MachineTicks {
            total: values.iter().take(8).sum(),
            steal: *values.get(7)?,
        })
    }

    /// The share of the machine's time stolen between `self` and `later` (0.0–1.0).
    pub fn steal_since(self, later: MachineTicks) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        later.steal.saturating_sub(self.steal) as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn reads_this_process_rss_and_its_peak() {
        let now = rss_kib(std::process::id()).expect("VmRSS");
        let peak = peak_rss_kib(std::process::id()).expect("VmHWM");
        assert!(now > 0);
        assert!(
            peak >= now,
            "peak {peak} KiB below the earlier RSS {now} KiB"
        );
    }

    #[test]
    fn this_process_has_used_some_cpu_and_the_machine_reports_its_ticks() {
        let spin = Instant::now();
        let mut sum = 0u64;
        while spin.elapsed() < Duration::from_millis(50) {
            sum = sum.wrapping_add(std::hint::black_box(1));
        }
        assert!(sum > 0);
        let used = cpu_time(std::process::id()).expect("own /proc/PID/stat");
        assert!(used >= Duration::from_millis(10), "{used:?}");
        let before = MachineTicks::now().expect("/proc/stat");
        let after = MachineTicks {
            total: before.total + 100,
            steal: before.steal + 25,
        };
        assert!((before.steal_since(after) - 0.25).abs() < 1e-9);
        assert_eq!(before.steal_since(before), 0.0);
    }

    /// A tiny keep-alive server answering every request with `200 ok`, for `requests` requests.
    fn serve(listener: TcpListener, requests: usize) {
        serve_in_pieces(listener, requests, usize::MAX);
    }

    /// The same, writing each response `piece` bytes at a time (flushed separately, with
    /// `TCP_NODELAY`, so the generator sees it arrive in parts).
    fn serve_in_pieces(listener: TcpListener, requests: usize, piece: usize) {
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            for _ in 0..requests {
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let body = "ok, and a body long enough to arrive in several parts";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nx-padding: {}\r\ncontent-length: {}\r\n\r\n{body}",
                    "p".repeat(64),
                    body.len()
                );
                let stream = reader.get_mut();
                stream.set_nodelay(true).unwrap();
                for part in response.as_bytes().chunks(piece.max(1)) {
                    stream.write_all(part).unwrap();
                    stream.flush().unwrap();
                }
            }
        });
    }

    fn for_millis(millis: u64) -> Limit {
        Limit {
            duration: Duration::from_millis(millis),
            requests: None,
        }
    }

    #[test]
    fn stops_after_the_request_budget() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        serve(listener, 1_000_000);
        let workload = Workload::new("GET", "/", "x", &[], b"", 200);
        let limit = Limit {
            duration: Duration::from_secs(30),
            requests: Some(25),
        };
        let report = run(address, &workload, 1, limit).unwrap();
        assert_eq!(report.successes, 25);
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
    }

    #[test]
    fn counts_successes_and_stops_by_itself() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        serve(listener, 1_000_000);
        let workload = Workload::new("GET", "/", "x", &[], b"", 200).expecting_body("ok");
        let report = run(address, &workload, 1, for_millis(200)).unwrap();
        assert!(report.successes > 0);
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
        assert!(report.latency_ms(0.5) <= report.latency_ms(0.99));
        assert!(report.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn a_response_arriving_a_few_bytes_at_a_time_is_read_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        serve_in_pieces(listener, 1_000_000, 7);
        let workload =
            Workload::new("GET", "/", "x", &[], b"", 200).expecting_body("several parts");
        let limit = Limit {
            duration: Duration::from_secs(30),
            requests: Some(20),
        };
        let report = run(address, &workload, 1, limit).unwrap();
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
        assert_eq!(report.successes, 20);
        assert!(report.generator_cpu.is_some());
    }

    #[test]
    fn response_heads_are_parsed_and_chunked_or_unsized_ones_refused() {
        let head = parse_head(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!")
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.status, head.content_length, head.close),
            (403, 5, false)
        );
        assert_eq!(head.length, 45);
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-len")
                .unwrap()
                .is_none()
        );
        let chunked = parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        assert!(chunked.err().unwrap().to_string().contains("chunked"));
        let unsized_head = parse_head(b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(
            unsized_head
                .err()
                .unwrap()
                .to_string()
                .contains("content-length")
        );
        let closing =
            parse_head(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        assert!(closing.unwrap().unwrap().close);
    }

    #[test]
    fn wrong_status_and_dead_servers_count_as_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        serve(listener, 1);
        let workload = Workload::new("GET", "/", "x", &[], b"", 404);
        let report = run(address, &workload, 1, for_millis(200)).unwrap();
        assert_eq!(report.successes, 0);
        assert!(report.errors >= 1);
        assert!(
            report
                .first_error
                .unwrap()
                .contains("status 200, expected 404")
        );
    }
}
