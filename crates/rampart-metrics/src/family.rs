//! Labeled families: [`CounterVec`] and [`HistogramVec`], with a cardinality cap.

use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustc_hash::{FxHashMap, FxHasher};

use crate::metric::{Counter, Histogram};
use crate::text;

/// Default cap on the number of distinct label combinations per family.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// The label value of the overflow series (every label of it has this value).
pub const OTHER: &str = "other";

const SHARDS: usize = 16;

/// A series kind a family can hold.
trait Series: Send + Sync + 'static {
    const TYPE: &'static str;
    fn fresh(&self) -> Self;
    fn render(&self, out: &mut String, name: &str, names: &[&str], values: &[&str], micros: bool);
}

impl Series for Counter {
    const TYPE: &'static str = "counter";

    fn fresh(&self) -> Self {
        Counter::new()
    }

    fn render(&self, out: &mut String, name: &str, names: &[&str], values: &[&str], micros: bool) {
        out.push_str(name);
        text::labels(out, names, values, None);
        out.push(' ');
        if micros {
            text::micros(out, self.get());
        } else {
            text::int(out, self.get());
        }
        out.push('\n');
    }
}

impl Series for Histogram {
    const TYPE: &'static str = "histogram";

    fn fresh(&self) -> Self {
        Histogram::fresh(self)
    }

    fn render(&self, out: &mut String, name: &str, names: &[&str], values: &[&str], _micros: bool) {
        let cumulative = self.cumulative();
        let count = cumulative.last().copied().unwrap_or(0);
        let mut le = String::new();
        for (i, c) in cumulative.iter().enumerate() {
            le.clear();
            match self.bounds().get(i) {
                Some(b) => text::float(&mut le, *b),
                None => le.push_str("+Inf"),
            }
            out.push_str(name);
            out.push_str("_bucket");
            text::labels(out, names, values, Some(("le", &le)));
            out.push(' ');
            text::int(out, c);
            out.push('\n');
        }
        out.push_str(name);
        out.push_str("_sum");
        text::labels(out, names, values, None);
        out.push(' ');
        text::float(out, self.sum());
        out.push('\n');
        out.push_str(name);
        out.push_str("_count");
        text::labels(out, names, values, None);
        out.push(' ');
        text::int(out, count);
        out.push('\n');
    }
}

struct Entry<M, const N: usize> {
    labels: [Box<str>; N],
    series: Arc<M>,
}

type Shard<M, const N: usize> = RwLock<FxHashMap<u64, Vec<Entry<M, N>>>>;

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[inline]
fn hash_labels<const N: usize>(labels: &[&str; N]) -> u64 {
    let mut h = FxHasher::default();
    for l in labels {
        h.write(l.as_bytes());
        h.write_u8(0xff); // not valid UTF-8: separates ("ab","c") from ("a","bc")
    }
    h.finish()
}

#[inline]
fn same<const N: usize>(a: &[Box<str>; N], b: &[&str; N]) -> bool {
    a.iter().zip(b).all(|(x, y)| **x == **y)
}

/// The shared machinery of a labeled family: a sharded map from label values to series.
struct Family<M, const N: usize> {
    name: String,
    help: String,
    label_names: [&'static str; N],
    shards: Box<[Shard<M, N>]>,
    len: AtomicUsize,
    max_series: usize,
    other: Arc<M>,
    other_used: AtomicBool,
    overflow: Counter,
    micros: bool,
}

impl<M: Series, const N: usize> Family<M, N> {
    fn new(name: &str, help: &str, label_names: [&'static str; N], proto: M) -> Self {
        assert!(text::valid_metric_name(name), "invalid metric name {name:?}");
        for l in label_names {
            assert!(text::valid_label_name(l) && l != "le", "invalid label name {l:?}");
        }
        Self {
            name: name.to_owned(),
            help: help.to_owned(),
            label_names,
            shards: (0..SHARDS).map(|_| RwLock::new(FxHashMap::default())).collect(),
            len: AtomicUsize::new(0),
            max_series: DEFAULT_MAX_SERIES,
            other: Arc::new(proto),
            other_used: AtomicBool::new(false),
            overflow: Counter::new(),
            micros: false,
        }
    }

    #[inline]
    fn use_other<R>(&self, f: impl FnOnce(&Arc<M>) -> R) -> R {
        if !self.other_used.load(Relaxed) {
            self.other_used.store(true, Relaxed);
        }
        f(&self.other)
    }

    #[inline]
    fn overflowed<R>(&self, f: impl FnOnce(&Arc<M>) -> R) -> R {
        self.overflow.inc();
        self.use_other(f)
    }

    /// Runs `f` on the series of `labels` (created if there is room, else the overflow
    /// series). The common path (series exists) takes one shard read lock.
    #[inline]
    fn with<R>(&self, labels: [&str; N], f: impl FnOnce(&Arc<M>) -> R) -> R {
        let labels = labels.map(text::truncate);
        if N > 0 && labels.iter().all(|l| *l == OTHER) {
            return self.use_other(f);
        }
        let h = hash_labels(&labels);
        let shard = &self.shards[(h >> 40) as usize % SHARDS];
        {
            let g = read(shard);
            if let Some(e) = g.get(&h).and_then(|v| v.iter().find(|e| same(&e.labels, &labels))) {
                return f(&e.series);
            }
        }
        if self.len.load(Relaxed) >= self.max_series {
            return self.overflowed(f);
        }
        let mut g = write(shard);
        if let Some(e) = g.get(&h).and_then(|v| v.iter().find(|e| same(&e.labels, &labels))) {
            return f(&e.series);
        }
        if self.len.fetch_add(1, Relaxed) >= self.max_series {
            self.len.fetch_sub(1, Relaxed);
            drop(g);
            return self.overflowed(f);
        }
        let series = Arc::new(self.other.fresh());
        g.entry(h).or_default().push(Entry { labels: labels.map(Box::from), series: series.clone() });
        drop(g);
        f(&series)
    }

    fn render(&self, out: &mut String) {
        text::header(out, &self.name, &self.help, M::TYPE);
        let mut all: Vec<(Vec<&str>, Arc<M>)> = Vec::new();
        let guards: Vec<_> = self.shards.iter().map(read).collect();
        for g in &guards {
            for e in g.values().flatten() {
                all.push((e.labels.iter().map(|s| &**s).collect(), e.series.clone()));
            }
        }
        if self.other_used.load(Relaxed) {
            all.push((vec![OTHER; N], self.other.clone()));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (values, series) in &all {
            series.render(out, &self.name, &self.label_names, values, self.micros);
        }
    }
}

macro_rules! family_common {
    () => {
        /// Caps the number of distinct label combinations (default
        /// [`DEFAULT_MAX_SERIES`]). Beyond it, new combinations record into the one
        /// series whose labels are all [`OTHER`], and [`Self::overflowed`] counts them.
        pub fn with_max_series(mut self, max: usize) -> Self {
            self.0.max_series = max;
            self
        }

        /// The metric name.
        pub fn name(&self) -> &str {
            &self.0.name
        }

        /// Number of distinct label combinations held (not counting the overflow series).
        pub fn series_count(&self) -> usize {
            self.0.len.load(Relaxed)
        }

        /// Number of recordings that went into the overflow series because the cap was
        /// reached.
        pub fn overflowed(&self) -> u64 {
            self.0.overflow.get()
        }

        /// Appends `# HELP`, `# TYPE` and every series, sorted by label values.
        pub fn render(&self, out: &mut String) {
            self.0.render(out)
        }
    };
}

/// A family of counters keyed by `N` label values.
///
/// Label values longer than [`crate::MAX_LABEL_VALUE_BYTES`] are truncated at a char
/// boundary; they are escaped on render.
pub struct CounterVec<const N: usize>(Family<Counter, N>);

impl<const N: usize> CounterVec<N> {
    /// A family named `name` with these label names.
    ///
    /// # Panics
    ///
    /// If the metric or a label name is not valid Prometheus syntax (label `le` is
    /// reserved for histograms).
    pub fn new(name: &str, help: &str, label_names: [&'static str; N]) -> Self {
        Self(Family::new(name, help, label_names, Counter::new()))
    }

    /// Like [`Self::new`], but values are micro-units rendered as decimals
    /// (`1_500_000` → `1.5`), e.g. a cost counted in micro-USD rendered in USD.
    pub fn new_micros(name: &str, help: &str, label_names: [&'static str; N]) -> Self {
        let mut f = Family::new(name, help, label_names, Counter::new());
        f.micros = true;
        Self(f)
    }

    family_common!();

    /// Adds one to the series of `labels`.
    #[inline]
    pub fn inc(&self, labels: [&str; N]) {
        self.0.with(labels, |c| c.inc());
    }

    /// Adds `n` to the series of `labels`.
    #[inline]
    pub fn inc_by(&self, labels: [&str; N], n: u64) {
        self.0.with(labels, |c| c.inc_by(n));
    }

    /// The current value of `labels`' series, if it exists (the overflow series for
    /// all-[`OTHER`] labels).
    pub fn get(&self, labels: [&str; N]) -> Option<u64> {
        let labels = labels.map(text::truncate);
        if N > 0 && labels.iter().all(|l| *l == OTHER) {
            return self.0.other_used.load(Relaxed).then(|| self.0.other.get());
        }
        let h = hash_labels(&labels);
        let g = read(&self.0.shards[(h >> 40) as usize % SHARDS]);
        g.get(&h).and_then(|v| v.iter().find(|e| same(&e.labels, &labels))).map(|e| e.series.get())
    }

    /// A pre-resolved handle to `labels`' series, for callers that record the same
    /// labels many times: incrementing it is a single atomic add. Counts against the
    /// cap like any recording (and may be the overflow series).
    pub fn handle(&self, labels: [&str; N]) -> Arc<Counter> {
        self.0.with(labels, Arc::clone)
    }
}

/// A family of histograms sharing one set of bucket bounds, keyed by `N` label values.
pub struct HistogramVec<const N: usize>(Family<Histogram, N>);

impl<const N: usize> HistogramVec<N> {
    /// A family named `name` with these label names and bucket upper bounds (see
    /// [`Histogram::new`]).
    ///
    /// # Panics
    ///
    /// If the metric or a label name is not valid Prometheus syntax or is `le`.
    pub fn new(name: &str, help: &str, label_names: [&'static str; N], bounds: &[f64]) -> Self {
        Self(Family::new(name, help, label_names, Histogram::new(bounds)))
    }

    family_common!();

    /// Records `v` in the series of `labels`.
    #[inline]
    pub fn observe(&self, labels: [&str; N], v: f64) {
        self.0.with(labels, |h| h.observe(v));
    }

    /// Records a duration, in seconds, in the series of `labels`.
    #[inline]
    pub fn observe_duration(&self, labels: [&str; N], d: std::time::Duration) {
        self.0.with(labels, |h| h.observe_duration(d));
    }

    /// A pre-resolved handle to `labels`' series (see [`CounterVec::handle`]).
    pub fn handle(&self, labels: [&str; N]) -> Arc<Histogram> {
        self.0.with(labels, Arc::clone)
    }
}
