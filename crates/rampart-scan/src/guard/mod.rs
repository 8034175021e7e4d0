//! Output validation of model text, whole or streamed: owns [`OutputGuard`], which
//! decides what of a model's output text the client may see. It masks secrets and PII
//! (or stops the output, per [`OutputPolicy`]), removes links and images to hosts not
//! on an allow-list, and stops the output when it shows a canary string or echoes the
//! protected system prompt. Does not own detection (the [`Scanner`]'s PII and secrets
//! detectors do), nor where the text comes from: the gateway feeds every text channel
//! (a chat `delta.content`, a completion `text`, a Responses `output_text`, one tool
//! call's arguments) through its own guard, and decides what a stop means for the
//! response.
//!
//! ```
//! use rampart_scan::Scanner;
//! use rampart_scan::guard::{OutputGuard, OutputPolicy};
//!
//! let scanner = Scanner::new();
//! let policy = OutputPolicy::default();
//! let mut guard = OutputGuard::new(&scanner, policy);
//! let mut shown = String::new();
//! for chunk in ["Write to ana@exa", "mple.com and", " call me."] {
//!     guard.push(chunk, &mut shown)?;
//! }
//! guard.finish(&mut shown)?;
//! assert_eq!(shown, "Write to [EMAIL_REDACTED] and call me.");
//! # Ok::<(), rampart_scan::guard::Stopped>(())
//! ```
//!
//! # One output whatever the chunking
//!
//! The central property: for every way of splitting a text into chunks, the
//! concatenation of what the guard emits (and the stop, and the events) equals what it
//! emits for the whole text pushed at once. The guard gets it by construction rather
//! than by hoping detectors are local: it walks the text in *segments* whose bounds
//! depend on the text alone, never on where chunks ended. For the segment starting at
//! the emitted position `c` it
//!
//! 1. picks a target cut `w`: the first word start at least [`min_segment`] bytes after
//!    `c` ([`MIN_SEGMENT`] once 128 bytes are out, less before), or a forced cut when a whitespace-free run reaches [`RUN_CAP`];
//! 2. picks the window end `r`: when the segment `[c, w)` is *inert* (see below), just
//!    past the whitespace after the word at `w` (the *short window*; a word further
//!    while the words may begin an echo of the protected prompt); otherwise just past
//!    the first whitespace at least [`LOOKAHEAD`] bytes after `w` (so the token under
//!    the look-ahead is whole), at most [`RUN_CAP`] after `c`;
//! 3. waits until the text up to `r` has arrived (or the text ends), then scans the
//!    window from [`CONTEXT`] bytes before `c` up to `r` once: PII, secrets, open
//!    private-key blocks, links, canaries, prompt shingles;
//! 4. moves the cut off every finding: past one that crosses `w` and ends inside the
//!    window, back to the start of one that runs into the window end (it may go on);
//!    when such an open finding starts at `c` itself, the window doubles instead (up
//!    to the finding kind's cap, then the open part is masked: fail closed);
//! 5. emits `[c, cut)` with findings replaced, and continues from the cut.
//!
//! Each decision reads only text that has arrived by the time it is made and is the
//! same function of the text in both cases, so splitting cannot change the output:
//! whether a segment is inert depends on the text of `[c, w)`, its context and the word
//! after it, never on where a chunk ended.
//! Tiny pushes cost little: until the bytes a segment waits for arrive, a push only
//! extends a resumable byte search; each segment is scanned once (plus doublings for
//! an open finding), so the work is linear in the output and the per-segment cost does
//! not grow with the output length.
//!
//! # Hold-back rules and their reasons
//!
//! - **Left context, [`CONTEXT`] = 256 bytes**, of text already emitted is scanned again
//!   and never re-emitted: context words (`password:`, `SSN`, `call me at`) sit before
//!   the value, the PII validators look back up to 48 bytes, and the secrets rules
//!   pair a name with a value after it. Findings inside it are ignored; one crossing
//!   into new text has its new part masked.
//! - **Look-ahead, at least [`LOOKAHEAD`] = 64 bytes**, plus the rest of the token under
//!   it, for a segment that is not inert: multi-word values (`4111 1111 1111 1111`,
//!   `+44 20 7946 0958`, an IBAN in groups, `078-05-1120`, a street address) cross word
//!   starts, and each is shorter than 64 bytes after any of its word starts; a context
//!   word after a number (`555 1234 office`) is within 14 bytes of it.
//! - **Inert segments: one word.** The look-ahead is for findings that start in `[c, w)`
//!   and go on past `w`. Such a finding holds the whitespace before `w`, and the only
//!   findings that can hold whitespace start with a digit (cards, phones, IBANs, SSNs,
//!   dates, postcodes, US addresses), `+` or `(` (phones), a quote (quoted passwords
//!   of `NetworkCredential(…)`, `curl -u`), `-----BEGIN` or `PuTTY-User-Key-File-<n>`
//!   (keys), `[`, `![` or `<` (links, tags), or one of a few words: a month or `Unit`
//!   before a number (`March 5, 1990`, `Unit 123, Box 456`), `Via`, `rue`, `calle`,
//!   `APO`… (addresses of words), a name before `gate`/`Weg`/`Strasse` (`Karl Johans
//!   gate 12`). Secret values, e-mails, URLs and tokens are whitespace-free. So a
//!   segment whose every word is inert — ASCII letters with `'` or `-` only between
//!   letters, at most 24 bytes, optionally wrapped in `*` and followed by `,.;:!?`,
//!   or markup alone (`-`, `##`, `>`, `---`), none of those address words — gets a
//!   window that ends after the next word: findings of two words (`Suite 12`,
//!   `Hauptstrasse 5`) end inside it and move the cut, and the next word decides the
//!   rest (a street word after the segment, or a number after a month or `Unit` at its
//!   end, gives the full look-ahead). The word after also gives every value in the
//!   segment the right context its rule reads (`password: hunter` is a literal only
//!   when nothing follows on its line). The segment must start a word, no masked
//!   construct may go on into it, and the context's last line must have no open quote
//!   (odd `"`, backticks, or `'` outside words): a quoted value longer than the
//!   look-ahead cut by an earlier segment keeps the next ones on the look-ahead, so its
//!   rest is seen and masked as before. Values in the segment itself are complete
//!   there and found by the scan of the window, as always.
//! - **Whitespace-free runs, up to [`RUN_CAP`] = 8 KiB**: tokens, URLs, keys and JWTs
//!   have no whitespace, so a cut never falls inside one shorter than the cap. A
//!   finding still open at the cap is masked up to it, and the rest of its run after
//!   it (fail closed: a secret longer than 8 KiB is masked whole, in pieces).
//! - **Private-key blocks, up to [`PEM_CAP`] = 16 KiB**: the secrets rule needs the whole
//!   `-----BEGIN … PRIVATE KEY-----` … `-----END …-----` block. An open block (its
//!   header, then only key characters: base64, whitespace, `\n` escapes, header lines)
//!   is held from the header on; at the cap everything from the header is masked, and
//!   so is the rest of the block until its END line.
//! - **Links, up to [`LINK_CAP`] = 4 KiB** (when `link_hosts` is set): an unclosed
//!   markdown destination `](…`, reference definition, autolink `<https:…` or HTML tag
//!   `<img …` is held until it closes; at the cap the held part is removed.
//! - **Canaries**: the longest suffix of the window that is a proper prefix of a canary
//!   is held like an open finding, so a canary is never emitted in part before it is
//!   seen whole (short windows included: the rule reads only the window's end).
//! - **Prompt echoes, in short windows** (with a protected prompt): while the words up
//!   to the window end could be the start of a copy of the prompt that began before
//!   `w` — each word a word of the prompt, each two neighbours neighbours in it — the
//!   window grows by a word; past [`LOOKAHEAD`] bytes after `w` the segment takes the
//!   full look-ahead, where the shingles see as much of the echo as they did without
//!   short windows.
//! - **Cuts** fall on char boundaries and never inside a finding.
//!
//! The price is latency and rescanning. A streamed answer reaches the client in
//! segments of about 65–130 bytes (shorter in its first 128 bytes). A segment of
//! inert words is released as soon as the word after it is whole: an answer's first
//! word once the second has arrived, later segments a word behind the model. A
//! segment holding a number, an address, a link or another word that is not inert
//! waits for the look-ahead, about 65 bytes (a dozen tokens) behind the model, and the
//! inert segments after it wait for it. Streamed in 20-byte chunks, the first content
//! leaves with the first chunk (after the fourth without short windows) and a byte
//! waits about 2 chunks in prose (5 before). Each byte is scanned about five times (a
//! ~330-byte window per ~65 bytes emitted; six with the look-ahead): 32 KiB of prose
//! costs about 1.8 ms (55 ns per byte; 5–10% more with a protected prompt) whether
//! pushed whole, word by word or in 3-byte pushes (`examples/guard_stream`, release
//! build, 2-core machine). The cost follows
//! the number of windows, not their size: 32-byte segments would triple it. Everything
//! held is bounded:
//! [`OutputGuard::held`] never exceeds [`MAX_HELD`] bytes after a call returns, and
//! the buffer holds at most that plus the context and 4 KiB of input.
//!
//! # What replaces what
//!
//! A redacted finding becomes `[{LABEL}_REDACTED]` with the label of
//! [`label_for`] (`[EMAIL_REDACTED]`, `[SECRET_REDACTED]`), which never collides with
//! a restorable `[LABEL_N]` pseudonym; overlapping findings become one placeholder
//! (a secret's label wins). A removed image becomes `[IMAGE_REMOVED]`, a markdown link
//! its text (`[docs](https://evil/)` → `docs`), an autolink `[LINK_REMOVED]`, an HTML
//! tag and a reference definition nothing. Links are checked in code spans too
//! (over-removal, never a miss).
//!
//! # Prompt leaks and canaries
//!
//! Canaries are matched exactly (bytes, case-sensitive); a canary seen anywhere in a
//! window that reaches new text stops the output before that segment. Prompt echoes
//! are matched as shingles of six words (3 distinct
//! shingles, i.e. 8 words copied verbatim, for a short prompt, up to 16 for a long one;
//! prompts under 8 words are not checked). The shingles are matched over the window,
//! so an echo is usually caught before any of it is emitted; in short windows the
//! words that could begin one are held until they stop following the prompt (a verbatim
//! echo of a short prompt after prose shows none of it), which costs a normal answer a
//! word or two where it shares a pair of neighbouring words with the prompt. Not
//! caught: a prompt translated, encoded or paraphrased.
//!
//! # Order with pseudonymization
//!
//! Run the guard on what the model wrote, *before* restoring the request's
//! pseudonyms ([`crate::redact::Restorer`]): a `[EMAIL_1]` the model repeats passes the
//! guard and is restored afterwards, while the guard's own `[EMAIL_REDACTED]` never
//! restores.

mod leak;
mod links;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use memchr::memmem;
use serde::Serialize;

use crate::redact::label_for;
use crate::{Family, Finding, Scanner};
use leak::LeakCheck;
use links::{LinkEdit, LinkRep};

/// Bytes of already-emitted text scanned again before new text.
pub const CONTEXT: usize = 256;
/// Bytes of text after a cut that the guard sees before making it, unless the segment
/// before the cut is inert (then the word after it; see the module docs).
pub const LOOKAHEAD: usize = 64;
/// Smallest segment (before rounding to a word start) once the output is under way;
/// the first segments are shorter (see [`min_segment`]).
pub const MIN_SEGMENT: usize = 64;

/// Smallest segment starting at emitted offset `c`: half the text emitted so far, at
/// least one byte, at most [`MIN_SEGMENT`]. The first segment ends at the second
/// word, so a stream's first words wait only for the word after them (inert words) or
/// the look-ahead, not for a full segment too; the scanning cost per emitted byte
/// stays what it is in steady state, since an early window's context is as short as
/// the text before it.
pub const fn min_segment(c: usize) -> usize {
    let half = c / 2;
    if half < 1 {
        1
    } else if half > MIN_SEGMENT {
        MIN_SEGMENT
    } else {
        half
    }
}
/// Longest whitespace-free run held back whole.
pub const RUN_CAP: usize = 8 << 10;
/// Longest unclosed link, autolink or HTML tag held back.
pub const LINK_CAP: usize = 4 << 10;
/// Longest unterminated private-key block held back.
pub const PEM_CAP: usize = 16 << 10;
/// Most bytes [`OutputGuard::held`] reports after a call returns.
pub const MAX_HELD: usize = PEM_CAP;

/// Input taken per round, so a huge push is processed in bounded pieces.
const FEED: usize = 4 << 10;
/// Emitted text (beyond the context) dropped from the buffer at once.
const DRAIN: usize = 4 << 10;

// === policy ===

/// What to do with a detector family's findings in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputAction {
    /// Stop the output at the first finding.
    Block,
    /// Replace each finding with a typed placeholder, `[EMAIL_REDACTED]`.
    Redact,
    /// Record an event, change nothing.
    Monitor,
    /// Do not scan for this family.
    Allow,
}

/// What an [`OutputGuard`] enforces. Cheap to build per request (the protected
/// prompt is the request's own system prompt).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPolicy {
    /// Credentials and keys; default [`OutputAction::Redact`].
    pub secrets: OutputAction,
    /// Personal data; default [`OutputAction::Redact`].
    pub pii: OutputAction,
    /// Strings that must never appear in output (exact, case-sensitive); seeing one
    /// stops the output. Empty strings are ignored; keep them short (a canary longer
    /// than [`RUN_CAP`] cannot be held back whole).
    pub canaries: Vec<String>,
    /// The system prompt the provider saw; output echoing it stops (a prompt leak).
    pub protected_prompt: Option<String>,
    /// `None`: links are not checked. `Some(hosts)`: markdown links and images,
    /// reference definitions, autolinks and URL attributes of HTML tags (`<img>`,
    /// `<a>`, `<iframe>`, …) whose host is not on the list are removed. Entries are
    /// exact hosts (`docs.example.com`) or `*.example.com` (subdomains only). Relative
    /// URLs and `#anchors` are allowed; any scheme but http and https (`data:`,
    /// `javascript:`, `mailto:`) is removed.
    pub link_hosts: Option<Vec<String>>,
    /// PII entity types never acted on in output. Default `DOMAIN_NAME`: the PII
    /// detector reports every URL, and URLs in output are governed by `link_hosts`.
    pub pii_ignore: Vec<String>,
    /// Findings scoring below this are only monitored, whatever the family's action.
    /// Default 0.5, which leaves the secrets detector's infrastructure identifiers
    /// (tenant hosts, buckets, ARNs, at 0.4) visible but recorded.
    pub min_score: f32,
}

impl Default for OutputPolicy {
    /// Redact secrets and PII (URLs excepted); no canaries, prompt or link checks.
    fn default() -> Self {
        Self {
            secrets: OutputAction::Redact,
            pii: OutputAction::Redact,
            canaries: Vec::new(),
            protected_prompt: None,
            link_hosts: None,
            pii_ignore: vec!["DOMAIN_NAME".to_owned()],
            min_score: 0.5,
        }
    }
}

// === stops and events ===

/// Why an output was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A canary string appeared.
    Canary,
    /// The output echoed the protected prompt.
    PromptLeak,
    /// A secret appeared and the policy blocks secrets.
    Secrets,
    /// PII appeared and the policy blocks PII.
    Pii,
}

impl StopReason {
    /// Stable name, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            StopReason::Canary => "canary",
            StopReason::PromptLeak => "prompt_leak",
            StopReason::Secrets => "secrets",
            StopReason::Pii => "pii",
        }
    }

    /// The OpenAI `finish_reason` to report for an output stopped this way.
    pub const fn finish_reason(self) -> &'static str {
        "content_filter"
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The output was stopped; the guard emits nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stopped {
    /// Why.
    pub reason: StopReason,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "output stopped: {}", self.reason)
    }
}

impl std::error::Error for Stopped {}

/// Which check an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardFamily {
    /// Personal data.
    Pii,
    /// Credentials and keys.
    Secrets,
    /// A link or image to a host not allowed.
    Link,
    /// A canary string.
    Canary,
    /// An echo of the protected prompt.
    PromptLeak,
}

impl GuardFamily {
    /// Stable name, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            GuardFamily::Pii => "pii",
            GuardFamily::Secrets => "secrets",
            GuardFamily::Link => "link",
            GuardFamily::Canary => "canary",
            GuardFamily::PromptLeak => "prompt_leak",
        }
    }
}

/// What the guard did about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Replaced by a placeholder.
    Redact,
    /// Stopped the output (the family's action is [`OutputAction::Block`]).
    Block,
    /// Recorded only.
    Monitor,
    /// A link or image removed.
    RemoveLink,
    /// Stopped the output (canary, prompt leak).
    Stop,
}

impl GuardAction {
    /// Stable name: `redact`, `block`, `monitor`, `remove_link`, `stop`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GuardAction::Redact => "redact",
            GuardAction::Block => "block",
            GuardAction::Monitor => "monitor",
            GuardAction::RemoveLink => "remove_link",
            GuardAction::Stop => "stop",
        }
    }
}

/// One thing the guard found, for the audit log: never the matched text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GuardEvent {
    /// Which check.
    pub family: GuardFamily,
    /// Rule id: a detector rule (`pii.email`, `secrets.github.pat`) or the guard's
    /// own (`output.link.image`, `output.canary`, `output.prompt_leak`,
    /// `output.private_key_unterminated`).
    pub rule: &'static str,
    /// Confidence in [0, 1].
    pub score: f32,
    /// What was done.
    pub action: GuardAction,
}

// === edits ===

/// What replaces an edit's span in the output.
#[derive(Debug, Clone)]
enum Rep {
    /// The text itself (a monitored finding, a hold).
    Keep,
    /// The original text of this absolute range (a removed link keeps its text).
    Text(Range<usize>),
    /// A fixed string (a removed link or image).
    Fixed(&'static str),
    /// `[LABEL_REDACTED]`; nothing for an empty label (the rest of a value already
    /// replaced by a placeholder).
    Redact { label: Cow<'static, str>, secret: bool },
}

impl Rep {
    /// Which replacement wins in a group of overlapping edits.
    fn rank(&self) -> u8 {
        match self {
            Rep::Keep => 0,
            Rep::Text(_) => 1,
            Rep::Fixed(_) => 2,
            Rep::Redact { label, secret } => 3 + 2 * u8::from(*secret) + u8::from(!label.is_empty()),
        }
    }
}

/// How a construct masked at its cap goes on after the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TailKind {
    /// To the end of the whitespace-free run.
    Run,
    /// To the END line of the private-key block.
    Pem,
}

/// The rest of a construct that was masked at its cap, masked too (without a second
/// placeholder).
#[derive(Debug, Clone, Copy)]
struct Tail {
    kind: TailKind,
    secret: bool,
}

/// A span of not-yet-emitted text the guard acts on (absolute offsets).
#[derive(Debug, Clone)]
struct Edit {
    span: Range<usize>,
    rep: Rep,
    /// The replacement when the edit is still open at its cap (fail closed).
    cap_rep: Rep,
    event: Option<GuardEvent>,
    cap_event: Option<GuardEvent>,
    /// Longest hold while the edit is open at the cut, in bytes from the cut.
    cap: usize,
    /// What masking it at its cap continues with.
    tail: Option<TailKind>,
}

impl Edit {
    /// The replacement: the normal one, or the one for an edit open at its cap.
    fn rep(&self, forced: bool) -> &Rep {
        if forced { &self.cap_rep } else { &self.rep }
    }

    /// An edit that only holds the cut back (and records `event` when emitted).
    fn keep(span: Range<usize>, event: Option<GuardEvent>, cap: usize) -> Self {
        Self { span, rep: Rep::Keep, cap_rep: Rep::Keep, event, cap_event: event, cap, tail: None }
    }
}

/// Overlapping edits merged: `members` index the sorted edits.
#[derive(Debug, Clone)]
struct Group {
    span: Range<usize>,
    members: Range<usize>,
    open: bool,
    cap: usize,
}

/// Resumable search for the current segment's target cut and window end.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    /// Target cut, once found.
    w0: Option<usize>,
    /// Which window the segment takes, once its target cut is found.
    reach: Reach,
    /// Window end, once found.
    r0: Option<usize>,
    /// Where the pending search resumes (0: from its own start).
    pos: usize,
    /// A larger window end, while an open finding at the cut makes the window grow.
    grow: Option<usize>,
}

/// How far a segment's window reaches past its target cut `w`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Reach {
    /// Not decided yet.
    #[default]
    Undecided,
    /// The segment is inert ([`inert_word`]): the window ends after the word at `w`
    /// (and after more words while they may continue an echo of the prompt).
    Short,
    /// The look-ahead: past the first whitespace [`LOOKAHEAD`] bytes after `w`.
    Full,
}

/// Where a short window ends, as far as the text so far tells.
enum ShortEnd {
    /// Here.
    At(usize),
    /// Not known yet: the search resumes here.
    Wait(usize),
    /// The segment takes the full look-ahead after all.
    Full,
}

// === the guard ===

/// Output validation for one text channel of one response. Feed it the text in
/// order with [`push`](Self::push) and end with [`finish`](Self::finish); emit what
/// they append to `out`. See the [module docs](self).
pub struct OutputGuard<'s> {
    scanner: &'s Scanner,
    policy: Arc<OutputPolicy>,
    leak: Option<LeakCheck>,
    /// A searcher per non-empty canary, built once per guard rather than per window.
    canaries: Vec<memmem::Finder<'static>>,
    /// Nothing to check: text passes straight through.
    passthrough: bool,
    /// Text from `base` to `len`.
    buf: String,
    base: usize,
    /// Bytes received.
    len: usize,
    /// Bytes decided (emitted, masked or removed).
    cut: usize,
    cursor: Cursor,
    tail: Option<Tail>,
    events: Vec<GuardEvent>,
    stopped: Option<StopReason>,
    scratch: Scratch,
}

/// Buffers reused across segments.
#[derive(Debug, Default)]
struct Scratch {
    findings: Vec<Finding>,
    edits: Vec<Edit>,
    links: Vec<LinkEdit>,
    groups: Vec<Group>,
}

impl fmt::Debug for OutputGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the text
        f.debug_struct("OutputGuard")
            .field("received", &self.len)
            .field("held", &self.held())
            .field("events", &self.events.len())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl<'s> OutputGuard<'s> {
    /// A guard for one text channel. Indexes the protected prompt (linear in its
    /// length, microseconds for a typical system prompt) and builds a searcher per
    /// canary; otherwise allocation-free until text arrives.
    /// The policy is shared (`Arc`), so a guard can live as long as the stream it
    /// inspects; a plain `OutputPolicy` converts.
    pub fn new(scanner: &'s Scanner, policy: impl Into<Arc<OutputPolicy>>) -> Self {
        let policy = policy.into();
        let leak = policy.protected_prompt.as_deref().and_then(LeakCheck::new);
        let canaries = policy
            .canaries
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| memmem::Finder::new(k.as_bytes()).into_owned())
            .collect();
        let passthrough = policy.pii == OutputAction::Allow
            && policy.secrets == OutputAction::Allow
            && policy.link_hosts.is_none()
            && policy.canaries.iter().all(String::is_empty)
            && leak.is_none();
        Self {
            scanner,
            policy,
            leak,
            canaries,
            passthrough,
            buf: String::new(),
            base: 0,
            len: 0,
            cut: 0,
            cursor: Cursor::default(),
            tail: None,
            events: Vec::new(),
            stopped: None,
            scratch: Scratch::default(),
        }
    }
}

impl OutputGuard<'_> {
    /// Feeds the next text; appends what is safe to show now to `out`. On `Err`,
    /// what was appended before the stop is still safe to show; nothing after it is,
    /// and every later call returns the same `Err` without emitting.
    pub fn push(&mut self, chunk: &str, out: &mut String) -> Result<(), Stopped> {
        if let Some(reason) = self.stopped {
            return Err(Stopped { reason });
        }
        if self.passthrough {
            out.push_str(chunk);
            self.len += chunk.len();
            self.cut = self.len;
            return Ok(());
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            let mut n = rest.len().min(FEED);
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            let (piece, after) = rest.split_at(n);
            self.buf.push_str(piece);
            self.len += piece.len();
            rest = after;
            self.run(false, out)?;
        }
        Ok(())
    }

    /// End of text: inspects everything still held and appends what may be shown.
    pub fn finish(&mut self, out: &mut String) -> Result<(), Stopped> {
        if let Some(reason) = self.stopped {
            return Err(Stopped { reason });
        }
        self.run(true, out)
    }

    /// What was found so far, in order, for the audit log: never the matched text.
    pub fn events(&self) -> &[GuardEvent] {
        &self.events
    }

    /// Bytes received but not yet emitted.
    pub fn held(&self) -> usize {
        self.len - self.cut
    }

    /// Why the output was stopped, if it was.
    pub fn stopped(&self) -> Option<StopReason> {
        self.stopped
    }

    /// Runs segments while their windows are available.
    fn run(&mut self, ended: bool, out: &mut String) -> Result<(), Stopped> {
        while self.cut < self.len {
            if !self.step(ended, out)? {
                break;
            }
        }
        Ok(())
    }

    // === impl OutputGuard: segment bounds ===

    /// The largest char boundary at or before absolute offset `pos` (buffered).
    fn floor_char(&self, pos: usize) -> usize {
        let mut i = pos - self.base;
        while !self.buf.is_char_boundary(i) {
            i -= 1;
        }
        i + self.base
    }

    /// Start of the left context of a segment starting at `c`.
    fn context_start(&self, c: usize) -> usize {
        self.floor_char(c.saturating_sub(CONTEXT).max(self.base))
    }

    /// The current segment's target cut and window end (short when the segment is
    /// inert, else the look-ahead), or `None` while the text they depend on has not
    /// arrived. Depends only on the text (and, at its end, on `ended`), never on how it
    /// was chunked; the searches resume where they stopped.
    fn plan(&mut self, ended: bool) -> Option<(usize, usize)> {
        let (c, len, base) = (self.cut, self.len, self.base);
        let b = self.buf.as_bytes();
        let w0 = match self.cursor.w0 {
            Some(w) => w,
            None => {
                // the first word start at least min_segment(c) bytes in
                let limit = c + RUN_CAP - LOOKAHEAD;
                let from = self.cursor.pos.max(c + min_segment(c));
                let end = len.min(limit);
                let mut i = from;
                let mut found = None;
                while i < end {
                    if is_ws(b[i - 1 - base]) && !is_ws(b[i - base]) {
                        found = Some(i);
                        break;
                    }
                    i += 1;
                }
                let w = match found {
                    Some(w) => w,
                    None if len >= limit => self.floor_char(limit),
                    None if ended => len,
                    None => {
                        self.cursor.pos = i;
                        return None;
                    }
                };
                self.cursor = Cursor { w0: Some(w), ..Cursor::default() };
                w
            }
        };
        if self.cursor.r0.is_none() && self.cursor.reach == Reach::Undecided {
            let word_start = w0 > c && w0 < len && is_ws(b[w0 - 1 - base]) && !is_ws(b[w0 - base]);
            let short = word_start && self.inert_segment(c, w0);
            self.cursor.reach = if short { Reach::Short } else { Reach::Full };
            self.cursor.pos = if short { w0 } else { 0 };
        }
        if self.cursor.r0.is_none() && self.cursor.reach == Reach::Short {
            match self.short_end(c, w0, self.cursor.pos, ended) {
                ShortEnd::At(r) => {
                    self.cursor.r0 = Some(r);
                    self.cursor.pos = 0;
                }
                ShortEnd::Wait(pos) => {
                    self.cursor.pos = pos;
                    return None;
                }
                ShortEnd::Full => {
                    self.cursor.reach = Reach::Full;
                    self.cursor.pos = 0;
                }
            }
        }
        let r0 = match self.cursor.r0 {
            Some(r) => r,
            None => {
                // just past the first whitespace LOOKAHEAD bytes after the cut
                let cap = c + RUN_CAP;
                let from = self.cursor.pos.max(w0 + LOOKAHEAD);
                let end = len.min(cap);
                let mut j = from;
                let mut found = None;
                while j < end {
                    if is_ws(b[j - base]) {
                        found = Some(j + 1);
                        break;
                    }
                    j += 1;
                }
                let r = match found {
                    Some(r) => r,
                    None if len >= cap => self.floor_char(cap),
                    None if ended => len,
                    None => {
                        self.cursor.pos = j;
                        return None;
                    }
                };
                self.cursor.r0 = Some(r);
                self.cursor.pos = 0;
                r
            }
        };
        let r = match self.cursor.grow {
            None => r0,
            Some(g) if g <= len => self.floor_char(g),
            Some(_) if ended => len,
            Some(_) => return None,
        };
        Some((w0, r))
    }

    /// Whether the segment `[c, w)` (`w` a word start) may take the short window: it
    /// starts a word, no masked construct goes on into it, every word in it is inert
    /// ([`inert_word`]) and the line before it in the context has no open quote.
    fn inert_segment(&self, c: usize, w: usize) -> bool {
        let (b, base) = (self.buf.as_bytes(), self.base);
        if self.tail.is_some() || (c > 0 && !is_ws(b[c - 1 - base])) {
            return false;
        }
        let words = b[c - base..w - base].split(|&x| is_ws(x));
        if !words.into_iter().all(|word| word.is_empty() || inert_word(word)) {
            return false;
        }
        let a = self.context_start(c);
        !open_quote(&b[a - base..c - base])
    }

    /// The end of the short window of the inert segment `[c, w0)`, searching on from
    /// `from` (a word end, or `w0`): just past the whitespace after the word at `w0`,
    /// then after each next word while the words so far may be the start of an echo of
    /// the protected prompt going on ([`LeakCheck::echo_open_before`]). The full
    /// look-ahead when that passes [`LOOKAHEAD`] bytes after `w0`, or when the word at
    /// `w0` could go on with a finding started before it ([`peek_ok`]).
    fn short_end(&self, c: usize, w0: usize, mut from: usize, ended: bool) -> ShortEnd {
        let (b, base, len) = (self.buf.as_bytes(), self.base, self.len);
        let limit = w0 + LOOKAHEAD;
        loop {
            let mut j = from;
            while j < len && j < limit && is_ws(b[j - base]) {
                j += 1;
            }
            while j < len && j < limit && !is_ws(b[j - base]) {
                j += 1;
            }
            if j >= limit {
                return ShortEnd::Full;
            }
            if j >= len {
                return if ended { ShortEnd::At(len) } else { ShortEnd::Wait(from) };
            }
            if from == w0 && !peek_ok(&b[c - base..w0 - base], &b[w0 - base..j - base]) {
                return ShortEnd::Full;
            }
            let r = j + 1;
            let text = &self.buf[c - base..r - base];
            if !self.leak.as_ref().is_some_and(|l| l.echo_open_before(text, w0 - c)) {
                return ShortEnd::At(r);
            }
            from = r;
        }
    }

    // === impl OutputGuard: one segment ===

    /// Scans the current segment's window and emits the segment, if its window is
    /// available. `Ok(false)`: waiting for more text.
    fn step(&mut self, ended: bool, out: &mut String) -> Result<bool, Stopped> {
        let Some((w0, r)) = self.plan(ended) else { return Ok(false) };
        let c = self.cut;
        let at_end = ended && r == self.len;
        let a = self.context_start(c);
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.segment(w0, r, a, at_end, &mut scratch, out);
        self.scratch = scratch;
        let progressed = match result {
            Ok(p) => p,
            Err(stop) => {
                self.stopped = Some(stop.0);
                self.events.push(stop.1);
                self.buf = String::new();
                self.base = self.len;
                return Err(Stopped { reason: stop.0 });
            }
        };
        // drop emitted text beyond the context (keeping the byte before it)
        let keep = self.context_start(self.cut).saturating_sub(1).max(self.base);
        let keep = self.floor_char(keep);
        if keep - self.base >= DRAIN {
            self.buf.drain(..keep - self.base);
            self.base = keep;
        }
        Ok(progressed)
    }

    /// The body of [`Self::step`] for the segment from the cut, target cut `w0`,
    /// window `[a, r)`: `Ok(true)` once it emitted the segment or widened the window,
    /// `Err` with the stop to make.
    fn segment(
        &mut self,
        w0: usize,
        r: usize,
        a: usize,
        at_end: bool,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> Result<bool, (StopReason, GuardEvent)> {
        scratch.findings.clear();
        scratch.edits.clear();
        scratch.links.clear();
        scratch.groups.clear();
        if let Some(stop) = self.collect(r, a, at_end, scratch) {
            return Err(stop);
        }
        merge(&mut scratch.edits, &mut scratch.groups, r, at_end);
        match self.choose_cut(w0, r, &scratch.groups) {
            Cut::Grow(next) => self.cursor.grow = Some(next),
            Cut::At { cut, forced } => self.emit(cut, forced, scratch, out),
        }
        Ok(true)
    }

    /// Runs every check over the window `[a, r)`: pushes the edits to make (and the
    /// holds) to `scratch.edits`, returns the stop to make, if any.
    fn collect(&mut self, r: usize, a: usize, at_end: bool, scratch: &mut Scratch) -> Option<(StopReason, GuardEvent)> {
        let Scratch { findings, edits, links, .. } = scratch;
        let c = self.cut;
        let policy = Arc::clone(&self.policy);
        let policy = &*policy;
        let window = &self.buf[a - self.base..r - self.base];
        let bytes = window.as_bytes();
        let mut stop: Option<(StopReason, GuardEvent)> = None;
        let mut stop_with = |reason: StopReason, event: GuardEvent| {
            if stop.is_none_or(|(r, _)| reason < r) {
                stop = Some((reason, event));
            }
        };

        // canaries: seen whole, or a prefix of one still open at the window end
        for finder in &self.canaries {
            let canary = finder.needle();
            if finder.find_iter(bytes).any(|m| a + m + canary.len() > c) {
                stop_with(
                    StopReason::Canary,
                    GuardEvent {
                        family: GuardFamily::Canary,
                        rule: "output.canary",
                        score: 1.0,
                        action: GuardAction::Stop,
                    },
                );
            }
            if !at_end {
                let from = bytes.len().saturating_sub(canary.len() - 1).max(c - a);
                let partial = memchr::memchr_iter(canary[0], &bytes[from..])
                    .map(|i| from + i)
                    .find(|&i| canary.starts_with(&bytes[i..]));
                if let Some(i) = partial {
                    edits.push(Edit::keep(a + i..r, None, RUN_CAP));
                }
            }
        }

        // prompt leak: the window's words against the prompt's shingles
        if let Some(leak) = self.leak.as_mut() {
            if leak.feed(window, a, at_end) {
                let event = GuardEvent {
                    family: GuardFamily::PromptLeak,
                    rule: "output.prompt_leak",
                    score: leak.score(),
                    action: GuardAction::Stop,
                };
                stop_with(StopReason::PromptLeak, event);
            }
        }

        // PII and secrets
        if policy.pii != OutputAction::Allow {
            self.scanner.pii().scan(window, findings);
        }
        if policy.secrets != OutputAction::Allow {
            self.scanner.secrets().scan(window, findings);
        }
        for f in findings.iter() {
            let span = a + f.span.start..a + f.span.end;
            if span.end <= c {
                continue;
            }
            let (family, action, reason, secret) = match f.family {
                Family::Pii => (GuardFamily::Pii, policy.pii, StopReason::Pii, false),
                Family::Secrets => (GuardFamily::Secrets, policy.secrets, StopReason::Secrets, true),
                Family::Injection | Family::Jailbreak => continue,
            };
            if !secret && policy.pii_ignore.iter().any(|e| e == f.entity) {
                continue;
            }
            let event = |action| Some(GuardEvent { family, rule: f.rule, score: f.score, action });
            let strong = f.score >= policy.min_score;
            let key = f.entity == "PRIVATE_KEY";
            let cap = if key { PEM_CAP } else { RUN_CAP };
            let mut span = span.start.max(c)..span.end;
            if secret && action == OutputAction::Redact && strong {
                // A value the rule cut short (the generic rule reads at most 200
                // bytes) goes on to the end of its token: mask all of it.
                while span.end < r && is_token_byte(bytes[span.end - a]) {
                    span.end += 1;
                }
            }
            match action {
                OutputAction::Allow => {}
                OutputAction::Block if strong => {
                    stop_with(reason, GuardEvent { family, rule: f.rule, score: f.score, action: GuardAction::Block });
                }
                OutputAction::Redact if strong => {
                    let rep = Rep::Redact { label: label_for(f.family, f.entity), secret };
                    let event = event(GuardAction::Redact);
                    let tail = Some(if key { TailKind::Pem } else { TailKind::Run });
                    edits.push(Edit { span, rep: rep.clone(), cap_rep: rep, event, cap_event: event, cap, tail });
                }
                _ => edits.push(Edit::keep(span, event(GuardAction::Monitor), cap)),
            }
        }

        // private-key blocks still open at the window end, and the rest of one masked
        // at its cap
        if policy.secrets != OutputAction::Allow && !at_end {
            let masks = matches!(policy.secrets, OutputAction::Redact | OutputAction::Block);
            for p in open_pem_blocks(bytes) {
                let span = (a + p).max(c)..r;
                if span.is_empty() {
                    continue;
                }
                let (cap_rep, action) = if masks {
                    (
                        Rep::Redact { label: label_for(Family::Secrets, "PRIVATE_KEY"), secret: true },
                        GuardAction::Redact,
                    )
                } else {
                    (Rep::Keep, GuardAction::Monitor)
                };
                let cap_event = Some(GuardEvent {
                    family: GuardFamily::Secrets,
                    rule: "output.private_key_unterminated",
                    score: 0.9,
                    action,
                });
                edits.push(Edit {
                    span,
                    rep: Rep::Keep,
                    cap_rep,
                    event: None,
                    cap_event,
                    cap: PEM_CAP,
                    tail: masks.then_some(TailKind::Pem),
                });
            }
        }
        if let Some(tail) = &self.tail {
            let from = c - a;
            let end = match tail.kind {
                TailKind::Run => bytes[from..].iter().position(|&b| is_ws(b)).map(|i| from + i),
                TailKind::Pem => pem_body_end(bytes, from),
            };
            let end = end.map_or(r, |e| a + e);
            if end > c {
                let rep = Rep::Redact { label: Cow::Borrowed(""), secret: tail.secret };
                let cap = if tail.kind == TailKind::Pem { PEM_CAP } else { RUN_CAP };
                edits.push(Edit {
                    span: c..end,
                    rep: rep.clone(),
                    cap_rep: rep,
                    event: None,
                    cap_event: None,
                    cap,
                    tail: Some(tail.kind),
                });
            }
        }

        // links and images
        if let Some(hosts) = &policy.link_hosts {
            let line_start = a == 0 || self.buf.as_bytes().get(a - self.base - 1) == Some(&b'\n');
            links::scan(window, c - a, at_end, line_start, hosts, links);
            for l in links.drain(..) {
                let rep = match l.rep {
                    LinkRep::Fixed(s) => Rep::Fixed(s),
                    LinkRep::Text(t) => Rep::Text(a + t.start..a + t.end),
                };
                let event = Some(GuardEvent {
                    family: GuardFamily::Link,
                    rule: l.rule,
                    score: 1.0,
                    action: GuardAction::RemoveLink,
                });
                edits.push(Edit {
                    span: a + l.span.start..a + l.span.end,
                    rep,
                    cap_rep: Rep::Fixed(""),
                    event,
                    cap_event: event,
                    cap: LINK_CAP,
                    tail: None,
                });
            }
        }

        stop
    }

    /// Where the segment ends: the target cut `w0` moved off every group (past a
    /// closed one that crosses it, back to the start of an open one), or a wider
    /// window when an open group starts at the cut itself (until its cap, where it is
    /// forced: emitted with its at-cap replacement).
    fn choose_cut(&self, w0: usize, r: usize, groups: &[Group]) -> Cut {
        let c = self.cut;
        let mut cut = w0;
        for (gi, g) in groups.iter().enumerate() {
            if g.span.start >= cut {
                break;
            }
            if g.span.end <= cut {
                continue;
            }
            if !g.open {
                cut = g.span.end;
                continue;
            }
            if g.span.start > c {
                return Cut::At { cut: g.span.start, forced: None };
            }
            // open at the cut itself: double the window, up to the group's cap
            let cap_end = (c + g.cap).max(self.cursor.r0.unwrap_or(r));
            if r + 4 <= cap_end {
                return Cut::Grow((c + 2 * (r - c)).max(r + 4).min(cap_end));
            }
            return Cut::At { cut: g.span.end, forced: Some(gi) };
        }
        Cut::At { cut, forced: None }
    }

    /// Emits `[cut, new_cut)` with the groups in it replaced, records their events,
    /// and moves on.
    fn emit(&mut self, cut: usize, forced: Option<usize>, scratch: &Scratch, out: &mut String) {
        let text = &self.buf;
        let base = self.base;
        let slice = |range: Range<usize>| &text[range.start - base..range.end - base];
        let mut pos = self.cut;
        let mut tail = None;
        for (gi, g) in scratch.groups.iter().enumerate() {
            if g.span.start >= cut {
                break;
            }
            out.push_str(slice(pos..g.span.start));
            let is_forced = forced == Some(gi);
            let members = &scratch.edits[g.members.clone()];
            let top = members.iter().map(|e| e.rep(is_forced)).max_by_key(|r| r.rank()).unwrap_or(&Rep::Keep);
            let mut changes = members.iter().filter(|e| e.rep(is_forced).rank() > 0);
            match (top, changes.next(), changes.next()) {
                (Rep::Redact { label, .. }, _, _) => {
                    if !label.is_empty() {
                        out.push('[');
                        out.push_str(label);
                        out.push_str("_REDACTED]");
                    }
                }
                (Rep::Keep, _, _) | (_, None, _) => out.push_str(slice(g.span.clone())),
                // one link change among holds: apply it alone, keep the rest
                (rep, Some(e), None) => {
                    out.push_str(slice(g.span.start..e.span.start));
                    match rep {
                        Rep::Text(t) => out.push_str(slice(t.clone())),
                        Rep::Fixed(s) => out.push_str(s),
                        Rep::Keep | Rep::Redact { .. } => {}
                    }
                    out.push_str(slice(e.span.end..g.span.end));
                }
                // nested links (an image inside a link's text): remove them all
                (_, Some(_), Some(_)) => out.push_str(links::LINK_REMOVED),
            }
            for e in members {
                if let Some(event) = if is_forced { e.cap_event } else { e.event } {
                    self.events.push(event);
                }
            }
            if let (true, Rep::Redact { secret, .. }) = (is_forced, top) {
                let kind = members.iter().filter_map(|e| e.tail).max_by_key(|k| *k == TailKind::Pem);
                tail = kind.map(|kind| Tail { kind, secret: *secret });
            }
            pos = g.span.end;
        }
        out.push_str(slice(pos..cut));
        self.tail = tail;
        self.cut = cut;
        self.cursor = Cursor::default();
    }
}

/// What [`OutputGuard::choose_cut`] decided.
enum Cut {
    /// Emit up to `cut`; `forced` is the group open at its cap, if any.
    At { cut: usize, forced: Option<usize> },
    /// Scan again with the window widened to this end.
    Grow(usize),
}

/// Sorts `edits` and merges the overlapping ones into `groups`; a group reaching the
/// window end `r` is open (it may go on) unless the window ends the text.
fn merge(edits: &mut Vec<Edit>, groups: &mut Vec<Group>, r: usize, at_end: bool) {
    edits.retain(|e| !e.span.is_empty());
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    for (i, e) in edits.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if e.span.start < g.span.end => {
                g.span.end = g.span.end.max(e.span.end);
                g.members.end = i + 1;
                g.cap = g.cap.max(e.cap);
            }
            _ => groups.push(Group { span: e.span.clone(), members: i..i + 1, open: false, cap: e.cap }),
        }
    }
    for g in groups.iter_mut() {
        g.open = !at_end && g.span.end >= r;
    }
}

fn is_ws(b: u8) -> bool {
    b.is_ascii_whitespace()
}

// === inert words ===

/// Longest inert word, in bytes.
const INERT_WORD: usize = 24;

/// Whether a word (a whole run of non-whitespace bytes) is *inert*: no finding any
/// check makes can start in it and go on past the whitespace after it, except where
/// [`peek_ok`] says so from the next word. Only ASCII letters, with `'` and `-` only
/// between two letters, optionally wrapped in `*` (emphasis) and followed by `,.;:!?`;
/// or markup alone (`-`, `*`, `##`, `>`, `---`). At most [`INERT_WORD`] bytes. No
/// letter run of it may start a street address made of words (`Via`, `rue`,
/// `calle`, `APO`, …: [`address_starter`]).
///
/// Why that is enough (see the module docs): a finding that crosses a cut after an
/// inert segment holds the whitespace before the cut, and the findings that may hold
/// whitespace start with a digit (cards, phones, IBANs, SSNs, dates, postcodes, US
/// addresses), `+` or `(` (phones), a quote (quoted passwords), `-----BEGIN` or
/// `PuTTY-User-Key-File-<digit>` (keys), `[`, `![`, `<` (links), or one of the words
/// [`address_starter`] and [`peek_ok`] look for; secret values and everything else are
/// whitespace-free and so end inside the segment, where the scan sees them whole.
fn inert_word(w: &[u8]) -> bool {
    if w.is_empty() || w.len() > INERT_WORD {
        return false;
    }
    if w.iter().all(|&x| matches!(x, b'-' | b'*' | b'#' | b'>')) {
        return true;
    }
    let lead = w.iter().take_while(|&&x| x == b'*').count();
    let trail = w.iter().rev().take_while(|&&x| b",.;:!?*".contains(&x)).count();
    if lead + trail >= w.len() {
        return false;
    }
    let core = &w[lead..w.len() - trail];
    let letter = |i: usize| core.get(i).is_some_and(u8::is_ascii_alphabetic);
    let shaped = (0..core.len())
        .all(|i| letter(i) || (matches!(core[i], b'\'' | b'-') && i > 0 && letter(i - 1) && letter(i + 1)));
    if !shaped {
        return false;
    }
    let mut start = 0;
    for (i, &x) in core.iter().chain([&b' ']).enumerate() {
        if x.is_ascii_alphabetic() {
            continue;
        }
        let next = w.get(lead + i).copied();
        if address_starter(&core[start..i], next) {
            return false;
        }
        start = i + 1;
    }
    true
}

/// A letter run that starts a street address of words before its number (`Via Roma
/// 12`, `rue de la Paix 5`, `al. Jana Pawła 3`, `APO AE 09012`), as the PII detector's
/// patterns spell them; `next` is the byte after the run.
fn address_starter(run: &[u8], next: Option<u8>) -> bool {
    const EXACT: &[&[u8]] = &[b"Via", b"Viale", b"Piazza", b"Plaza", b"Plac"];
    const ANY_CASE: &[&[u8]] =
        &[b"rua", b"calle", b"avenida", b"rue", b"carrer", b"camino", b"ulica", b"aleja", b"apo", b"fpo", b"dpo"];
    EXACT.contains(&run)
        || ANY_CASE.iter().any(|s| s.eq_ignore_ascii_case(run))
        || (next == Some(b'.') && (run.eq_ignore_ascii_case(b"ul") || run.eq_ignore_ascii_case(b"al")))
}

/// Whether an inert segment `seg` may end before the word `peek`: not when `peek` is
/// the street word of `Name gate 12` (whose name ends the segment), nor when `peek`
/// starts with a digit and the segment ends with a word a number completes into more
/// than two words (`March 5, 1990`, `Unit 123, Box 456`). Findings of two words (`Suite
/// 12`, `Hauptstrasse 5`) end inside the window and move the cut themselves.
fn peek_ok(seg: &[u8], peek: &[u8]) -> bool {
    const STREET: &[&[u8]] = &[
        b"Strasse",
        "Straße".as_bytes(),
        b"Str.",
        b"Gasse",
        b"Weg",
        b"gate",
        b"gata",
        b"vei",
        b"vej",
        b"utca",
        b"ulica",
    ];
    const BEFORE_NUMBER: &[&[u8]] = &[
        b"jan",
        b"january",
        b"feb",
        b"february",
        b"mar",
        b"march",
        b"apr",
        b"april",
        b"may",
        b"jun",
        b"june",
        b"jul",
        b"july",
        b"aug",
        b"august",
        b"sep",
        b"sept",
        b"september",
        b"oct",
        b"october",
        b"nov",
        b"november",
        b"dec",
        b"december",
        b"psc",
        b"unit",
        b"cmr",
    ];
    if STREET.contains(&peek) {
        return false;
    }
    if !peek.first().is_some_and(u8::is_ascii_digit) {
        return true;
    }
    let last = seg.rsplit(|&x| is_ws(x)).find(|w| !w.is_empty()).unwrap_or_default();
    let end = last.iter().rposition(u8::is_ascii_alphabetic).map_or(0, |i| i + 1);
    let start = last[..end].iter().rposition(|x| !x.is_ascii_alphabetic()).map_or(0, |i| i + 1);
    let run = &last[start..end];
    !BEFORE_NUMBER.iter().any(|m| m.eq_ignore_ascii_case(run))
}

/// Whether the last line of `before` (the context before a segment) has an open
/// quote: an odd number of `"`, of backticks, or of `'` not between two letters. A
/// quoted value may hold whitespace, so the segment after an open one takes the full
/// look-ahead.
fn open_quote(before: &[u8]) -> bool {
    let line = &before[before.iter().rposition(|&x| x == b'\n').map_or(0, |i| i + 1)..];
    let letter = |i: Option<usize>| i.and_then(|i| line.get(i)).is_some_and(u8::is_ascii_alphabetic);
    let (mut dq, mut bt, mut sq) = (0usize, 0usize, 0usize);
    for (i, &x) in line.iter().enumerate() {
        match x {
            b'"' => dq += 1,
            b'`' => bt += 1,
            b'\'' if !(letter(i.checked_sub(1)) && letter(Some(i + 1))) => sq += 1,
            _ => {}
        }
    }
    dq % 2 == 1 || bt % 2 == 1 || sq % 2 == 1
}

/// Bytes a token (key, password, base64 blob) goes on with.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

// === private-key blocks ===

const BEGIN: &[u8] = b"-----BEGIN";
const END: &[u8] = b"-----END";
/// Searchers for the fixed needles, built once (`memmem::find` builds one per call).
static FIND_BEGIN: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(BEGIN));
static FIND_DASHES: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"-----"));

/// Starts of the `-----BEGIN … PRIVATE KEY-----` blocks of `b` still open at its end:
/// the header (or a prefix of it) runs to the end, or only key material follows it.
fn open_pem_blocks(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let whole = FIND_BEGIN.find_iter(b).filter(|&p| match pem_header(b, p + BEGIN.len()) {
        Header::Partial => true,
        Header::No => false,
        Header::Yes(end) => pem_body_end(b, end).is_none(),
    });
    // a `-----BEG` cut by the window end
    let from = b.len().saturating_sub(BEGIN.len() - 1);
    let cut = memchr::memchr_iter(b'-', &b[from..]).map(move |i| from + i).find(|&i| BEGIN.starts_with(&b[i..]));
    whole.chain(cut)
}

enum Header {
    No,
    /// Cut by the end of the text so far.
    Partial,
    /// A private-key header ending here.
    Yes(usize),
}

/// The rest of a PEM header after `-----BEGIN`: `[ A-Z0-9]{0,30}PRIVATE KEY( BLOCK)?-----`.
fn pem_header(b: &[u8], at: usize) -> Header {
    const LONGEST: usize = 30 + " PRIVATE KEY BLOCK".len();
    let rest = &b[at..];
    let head_ok = |h: &[u8]| h.iter().all(|&c| c == b' ' || c.is_ascii_uppercase() || c.is_ascii_digit());
    match FIND_DASHES.find(&rest[..rest.len().min(LONGEST + 5)]) {
        Some(k) => {
            let head = &rest[..k];
            if head_ok(head) && (head.ends_with(b"PRIVATE KEY") || head.ends_with(b"PRIVATE KEY BLOCK")) {
                Header::Yes(at + k + 5)
            } else {
                Header::No
            }
        }
        None if rest.len() < LONGEST + 5 => {
            let dashes = rest.iter().rev().take_while(|&&c| c == b'-').count();
            if head_ok(&rest[..rest.len() - dashes]) { Header::Partial } else { Header::No }
        }
        None => Header::No,
    }
}

/// Where the key material that starts at `at` ends: after the closing dashes of its
/// `-----END …-----` line, or at the first character that cannot be part of a key
/// block (key blocks hold base64, whitespace, `\n` escapes and `Name: value` header
/// lines). `None` when it runs to the end of `b`.
fn pem_body_end(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while i < b.len() {
        let c = b[i];
        if c == b'-' {
            let rest = &b[i..];
            if rest.len() < END.len() && END.starts_with(rest) {
                // an END line cut by the end of the text so far
                return None;
            }
            if rest.starts_with(END) {
                let after = i + END.len();
                let window = &b[after..b.len().min(after + 48)];
                return match FIND_DASHES.find(window) {
                    Some(k) => Some(after + k + 5),
                    None if b.len() < after + 48 => None,
                    None => Some(after),
                };
            }
        } else if !(c.is_ascii_alphanumeric() || c.is_ascii_whitespace() || b"+/=\\:,".contains(&c)) {
            return Some(i);
        }
        i += 1;
    }
    None
}
