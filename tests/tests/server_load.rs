//! Load on the OpenAI-compatible server (issue 27, item 5): many clients on loopback for a
//! bounded time — streaming and not, some going away mid-stream, some with a wrong key,
//! bodies at and over the limit, broken JSON, the queue's bound reached — and every request is
//! answered or refused with a status, none is lost, the server's own count agrees with the
//! clients', and its memory stays flat.
//!
//! As a benchmark (RELIABILITY.md): `FIN_R1_LOAD_SECS=120 FIN_R1_LOAD_CLIENTS=32 cargo test -p
//! fin-r1-tests --test server_load -- --nocapture` prints p50/p99 time to first token, requests
//! held and refused, and the server's memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fin_r1_tests::serve::Server;
use fin_r1_tests::{fixture, SMOLLM2_FILE};
use serde_json::{json, Value};

const KEY: &str = "sk-load-test";
const MAX_BODY: usize = 64 * 1024;
const MAX_QUEUED: usize = 4;

fn serve() -> Server {
    fin_r1_tests::serve::serve(&fixture(SMOLLM2_FILE), &["--api-key", KEY, "--max-body-bytes", &MAX_BODY.to_string(), "--max-queued", &MAX_QUEUED.to_string()])
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Stream,
    Whole,
    GoesAway,
    WrongKey,
    AtLimit,
    OverLimit,
    BrokenJson,
}

impl Kind {
    fn pick(r: u64) -> Self {
        match r % 100 {
            0..=34 => Kind::Stream,
            35..=59 => Kind::Whole,
            60..=74 => Kind::GoesAway,
            75..=84 => Kind::WrongKey,
            85..=89 => Kind::AtLimit,
            90..=94 => Kind::OverLimit,
            _ => Kind::BrokenJson,
        }
    }
    /// What the server may answer this kind of request with.
    fn allowed(self) -> &'static [u16] {
        match self {
            Kind::Stream | Kind::Whole | Kind::GoesAway | Kind::AtLimit => &[200, 429],
            Kind::WrongKey => &[401],
            Kind::OverLimit => &[413],
            Kind::BrokenJson => &[400],
        }
    }
}

#[derive(Default)]
struct Results {
    by_kind: BTreeMap<(Kind, u16), u64>,
    /// Requests with no status (a connection refused or reset, a timeout): must stay empty.
    lost: Vec<String>,
    ttft_ms: Vec<f64>,
    retry_after_missing: u64,
}

fn body(max_tokens: u64, stream: bool, question: &str) -> Value {
    json!({
        "model": "Fin-R1",
        "messages": [{"role": "user", "content": question}],
        "max_tokens": max_tokens,
        "temperature": 0.7,
        "stream": stream,
    })
}

/// One request of `kind`; its status, if it got one.
fn one(client: &reqwest::blocking::Client, base: &str, kind: Kind, n: u64, out: &Mutex<Results>) -> Option<u16> {
    let url = format!("{base}/chat/completions");
    let question = format!("Request {n}: what is the present value of 1000 in two years at 5%?");
    let (payload, key) = match kind {
        Kind::Stream | Kind::GoesAway => (body(24, true, &question).to_string(), KEY),
        Kind::Whole => (body(16, false, &question).to_string(), KEY),
        Kind::WrongKey => (body(16, false, &question).to_string(), "sk-wrong"),
        Kind::AtLimit | Kind::OverLimit => {
            // Valid JSON padded with whitespace to exactly the limit, or one byte past it.
            let mut s = body(8, false, &question).to_string();
            let target = if kind == Kind::AtLimit { MAX_BODY } else { MAX_BODY + 1 };
            s.push_str(&" ".repeat(target.saturating_sub(s.len())));
            (s, KEY)
        }
        Kind::BrokenJson => (format!("{{\"messages\": [{{\"role\": \"user\", \"content\": \"{question}\"}}"), KEY),
    };
    let started = Instant::now();
    let sent = client.post(&url).bearer_auth(key).header("content-type", "application/json").body(payload).send();
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            out.lock().expect("results").lost.push(format!("{kind:?} #{n}: {e}"));
            return None;
        }
    };
    let status = resp.status().as_u16();
    let record = |r: &mut Results| *r.by_kind.entry((kind, status)).or_default() += 1;
    if status == 429 && resp.headers().get("retry-after").is_none() {
        out.lock().expect("results").retry_after_missing += 1;
    }
    if status != 200 {
        // The refusal is OpenAI's error shape.
        let text = resp.text().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut r = out.lock().expect("results");
        if v["error"]["message"].as_str().is_none() {
            r.lost.push(format!("{kind:?} #{n}: status {status} without an error body: {text:?}"));
        }
        record(&mut r);
        return Some(status);
    }
    match kind {
        Kind::Stream | Kind::GoesAway => {
            let mut first: Option<f64> = None;
            let mut done = false;
            for line in BufReader::new(resp).lines() {
                let Ok(line) = line else { break };
                let Some(data) = line.strip_prefix("data: ") else { continue };
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                let delta = &v["choices"][0]["delta"];
                let text = delta["content"].as_str().or(delta["reasoning_content"].as_str()).unwrap_or("");
                if first.is_none() && !text.is_empty() {
                    first = Some(started.elapsed().as_secs_f64() * 1000.0);
                    if kind == Kind::GoesAway {
                        // The client goes away mid-stream: the rest is never read.
                        break;
                    }
                }
            }
            let mut r = out.lock().expect("results");
            if kind == Kind::Stream {
                if !done {
                    r.lost.push(format!("{kind:?} #{n}: the stream ended without [DONE]"));
                }
                if let Some(t) = first {
                    r.ttft_ms.push(t);
                }
            }
            record(&mut r);
        }
        _ => {
            let v: Value = resp.json().unwrap_or(Value::Null);
            let mut r = out.lock().expect("results");
            if v["choices"][0]["message"].is_null() {
                r.lost.push(format!("{kind:?} #{n}: a 200 without a message: {v}"));
            }
            record(&mut r);
        }
    }
    Some(status)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn the_server_under_load_answers_or_refuses_every_request_with_a_status() {
    let server = serve();
    let secs = env_or("FIN_R1_LOAD_SECS", 8);
    let clients = env_or("FIN_R1_LOAD_CLIENTS", 12);
    let pid = server.child.id();
    let base = server.base.clone();
    let results = Arc::new(Mutex::new(Results::default()));
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let rss_start = rss_mb(pid);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (base, results) = (base.clone(), results.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (c + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                let mut n = 0;
                while Instant::now() < until {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // A client turned away waits a little before its next request, as a
                    // well-behaved one does (not the whole Retry-After: the load stays high).
                    if one(&client, &base, Kind::pick(state), c * 1_000_000 + n, &results) == Some(429) {
                        std::thread::sleep(Duration::from_millis(50 + state % 200));
                    }
                    n += 1;
                }
            })
        })
        .collect();
    // Memory a third of the way in (the model, the runtime and the queue all warm) and at the end.
    std::thread::sleep(Duration::from_secs(secs) / 3);
    let rss_warm = rss_mb(pid);
    for t in threads {
        t.join().expect("client thread");
    }
    let rss_end = rss_mb(pid);

    // The server settles: nothing in flight, and its count agrees with the clients'.
    let health = reqwest::blocking::Client::new();
    let settle = Instant::now();
    let stats = loop {
        let v: Value = health.get(format!("{}/health", base.trim_end_matches("/v1"))).send().and_then(|r| r.json()).expect("health");
        if v["stats"]["in_flight"] == 0 || settle.elapsed() > Duration::from_secs(30) {
            break v["stats"].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let r = results.lock().expect("results");
    let count = |status: u16| r.by_kind.iter().filter(|((_, s), _)| *s == status).map(|(_, n)| n).sum::<u64>();
    let total: u64 = r.by_kind.values().sum();
    let mut ttft = r.ttft_ms.clone();
    ttft.sort_by(f64::total_cmp);
    eprintln!(
        "load: {clients} clients for {secs} s: {total} requests answered, {} held (200), {} refused busy (429), {} wrong key (401), {} over the limit (413), {} broken (400), {} lost",
        count(200),
        count(429),
        count(401),
        count(413),
        count(400),
        r.lost.len()
    );
    eprintln!("load: time to first token p50 {:.0} ms, p99 {:.0} ms over {} streams", percentile(&ttft, 0.5), percentile(&ttft, 0.99), ttft.len());
    eprintln!("load: server memory {rss_start:.0} MB at start, {rss_warm:.0} MB warm, {rss_end:.0} MB at the end; its stats {stats}");
    for ((kind, status), n) in &r.by_kind {
        eprintln!("  {kind:?} → {status}: {n}");
    }

    assert!(r.lost.is_empty(), "requests lost: {:#?}", r.lost);
    for ((kind, status), n) in &r.by_kind {
        assert!(kind.allowed().contains(status), "{n} {kind:?} requests answered {status}");
    }
    assert_eq!(r.retry_after_missing, 0, "a 429 without Retry-After");
    assert!(count(200) > 0 && count(401) > 0 && count(400) > 0, "the mix ran: {:?}", r.by_kind);
    assert_eq!(stats["in_flight"], 0, "requests still in flight after every client is done: {stats}");
    assert_eq!(stats["received"].as_u64(), Some(count(200)), "every request held is counted: {stats}");
    assert_eq!(stats["rejected"].as_u64(), Some(count(429)), "every refusal is counted: {stats}");
    assert_eq!(stats["failed"], 0, "{stats}");
    let finished = stats["completed"].as_u64().unwrap_or(0) + stats["cancelled"].as_u64().unwrap_or(0);
    assert_eq!(Some(finished), stats["received"].as_u64(), "every request held ended as completed or cancelled: {stats}");
    // Flat: what the warm server holds does not grow with the requests it answers.
    assert!(rss_end < rss_warm + 64.0, "server memory grew from {rss_warm:.0} MB to {rss_end:.0} MB under load");
}
