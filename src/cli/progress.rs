//! Progress of a long command on stderr: a bar on a terminal, and where stderr is a file or a
//! pipe (a batch job, a log) a plain line at the start and at most every ten seconds, so that a
//! run of hours is never silent.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Least time between two plain progress lines.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Progress over `total` items of one kind.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    total: u64,
    done: std::cell::Cell<u64>,
    started: Instant,
    last_line: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    /// Progress over `total` items, `what` naming them (`chips`), `done` of them already.
    pub fn new(total: u64, done: u64, what: &'static str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total).with_style(
                indicatif::ProgressStyle::with_template(
                    "evaluating [{bar:40}] {pos}/{len} {msg}, eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(what);
            bar.set_position(done);
            bar
        });
        let progress = Progress {
            bar,
            what,
            total,
            done: std::cell::Cell::new(done),
            started: Instant::now(),
            last_line: std::cell::Cell::new(None),
        };
        progress.line();
        progress
    }

    /// One more item done.
    pub fn inc(&self) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => self.line(),
        }
    }

    /// A plain line when there is no bar and the last one is old enough.
    fn line(&self) {
        if self.bar.is_some() {
            return;
        }
        let now = Instant::now();
        if self
            .last_line
            .get()
            .is_some_and(|last| now - last < LINE_EVERY && self.done.get() < self.total)
        {
            return;
        }
        self.last_line.set(Some(now));
        let done = self.done.get();
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 {
            format!(
                ", about {:.0} s left",
                elapsed / done as f64 * (self.total - done) as f64
            )
        } else {
            String::new()
        };
        eprintln!(
            "evaluating: {done}/{} {} ({:.1}%) after {elapsed:.0} s{eta}",
            self.total,
            self.what,
            100.0 * done as f64 / self.total.max(1) as f64
        );
    }

    /// The work is over: the bar is cleared.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
