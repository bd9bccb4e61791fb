//! Concurrent load against a real server: threads that each repeat one kind of request until
//! told to stop, recording when each started and what came back (a status, or a transport
//! error), for the fault tests to count by status and by time.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http_client::Response;

/// One request of the load.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which kind of request (the label given to [`Load::start`]).
    pub kind: &'static str,
    pub started: Instant,
    pub finished: Instant,
    /// The status, or why no HTTP answer came.
    pub result: Result<u16, String>,
    /// The `X-Served-By` header (set by the HAProxy of the instance test).
    pub served_by: Option<String>,
}

impl Outcome {
    /// `200`, `503`, … or `transport error`.
    pub fn label(&self) -> String {
        match &self.result {
            Ok(status) => status.to_string(),
            Err(_) => "transport error".to_string(),
        }
    }
}

/// A request to repeat: it gets the server address and the iteration number.
pub type Request = Arc<dyn Fn(&str, u64) -> std::io::Result<Response> + Send + Sync>;

/// Running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Outcome>>>,
}

impl Load {
    /// One thread per request kind, each repeating it against `addr` with `pause` between
    /// requests, until [`Load::finish`].
    pub fn start(addr: &str, kinds: &[(&'static str, Request)], pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = kinds
            .iter()
            .map(|(kind, request)| {
                let (kind, request, stop, addr) =
                    (*kind, request.clone(), stop.clone(), addr.to_string());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let answer = request(&addr, n);
                        seen.push(Outcome {
                            kind,
                            started,
                            finished: Instant::now(),
                            served_by: answer
                                .as_ref()
                                .ok()
                                .and_then(|r| r.header("x-served-by").map(str::to_string)),
                            result: answer.map(|r| r.status).map_err(|e| e.to_string()),
                        });
                        n += 1;
                        std::thread::sleep(pause);
                    }
                    seen
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops the threads and returns every outcome, in order of start.
    pub fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Outcome> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().expect("load thread"))
            .collect();
        all.sort_by_key(|o| o.started);
        all
    }
}

/// How many outcomes of each kind got each label: `{"api:update": {"200": 31, "503": 4}}`.
pub fn tally<'a>(
    outcomes: impl IntoIterator<Item = &'a Outcome>,
) -> BTreeMap<&'static str, BTreeMap<String, usize>> {
    let mut counts: BTreeMap<&'static str, BTreeMap<String, usize>> = BTreeMap::new();
    for o in outcomes {
        *counts
            .entry(o.kind)
            .or_default()
            .entry(o.label())
            .or_default() += 1;
    }
    counts
}

/// The same counts over every kind: `{"200": 90, "503": 12}`.
pub fn totals<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in outcomes {
        *counts.entry(o.label()).or_default() += 1;
    }
    counts
}
