//! `tagstream explain USER`: one user's current tags and why they hold them — the rule, event
//! and time that set each — with the aggregates the rules read, the pending timers and, given
//! the tag changes (`--changes FILE`, or the output topic in Kafka mode), the user's history.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::near::NearIds;
use super::{each_user, open, ExplainArgs, ExplainFormat, Found, QueryError, Source};
use crate::config::duration::DAY_MS;
use crate::decode::EventType;
use crate::pipeline::paths::Stream;
use crate::rules::RulePack;
use crate::state::{vars::name_of, Var};
use crate::tags::{format_ts, NEVER};

/// Windows the report counts events over (days).
const WINDOWS_DAYS: [i64; 4] = [7, 14, 30, 90];
/// The window of the order figures (RFM's year).
const ORDER_WINDOW_DAYS: i64 = 365;

#[derive(Debug, Serialize)]
pub struct Report {
    pub user_id: String,
    /// The clock of the state: "now" for every window and age below.
    pub as_of: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub events: u32,
    pub tags: Vec<HeldTag>,
    pub activity: Vec<TypeActivity>,
    pub orders: Orders,
    pub variables: Vec<Variable>,
    pub timers: Vec<Timer>,
    /// The user's tag changes, oldest first (`None` when no history was given).
    pub changes: Option<Vec<Value>>,
}

#[derive(Debug, Serialize)]
pub struct HeldTag {
    pub tag: String,
    pub score: Option<f64>,
    /// `None` for a tag restored from a state written before tags kept it.
    pub since: Option<String>,
    pub expires_at: Option<String>,
    pub rule: String,
    /// `None` when a timer set it (no event).
    pub event_id: Option<String>,
    /// From the change that added it (needs the history).
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TypeActivity {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `(days, events)` for each window ending now.
    pub last_days: Vec<(i64, i64)>,
    pub first: Option<String>,
    pub last: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Orders {
    pub window_days: i64,
    pub paid: i64,
    pub amount: f64,
    pub promo_share: f64,
    pub last_paid: Option<String>,
    pub paid_all_time: i64,
}

#[derive(Debug, Serialize)]
pub struct Variable {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Serialize)]
pub struct Timer {
    pub rule: String,
    pub due: String,
}

/// Runs the command.
///
/// # Errors
/// Unknown user (exit 1, with the ids near it), unreadable source or history.
pub fn run(args: &ExplainArgs) -> Result<(), QueryError> {
    let (config, pack, source) = open(&args.source)?;
    let mut found = None;
    // Read to the end when the id has no state: the ids near it are the suggestions.
    let mut near = NearIds::new(&args.user);
    each_user(&source, &pack, &mut |user: Found| {
        if user.id == args.user {
            found = Some(user);
            return Ok(false);
        }
        near.offer(&user.id);
        Ok(true)
    })?;
    let user = found.ok_or_else(|| QueryError::UnknownUser {
        id: args.user.clone(),
        near: near.into_ids(),
    })?;
    let history = match (&args.changes, &source) {
        (Some(path), _) => {
            let changes = read_history(path, &args.user)?;
            if changes.is_empty() && !user.state.tags.is_empty() {
                // The user holds tags, so the run that set them wrote changes of theirs.
                tracing::warn!(
                    "{} holds no tag change of user {:?}, who holds tags: is it the --output \
                     of the run that wrote this state?",
                    Stream::input(path).name(),
                    args.user
                );
            }
            Some(changes)
        }
        (None, Source::Changelog(_)) => Some(super::changelog::history(&config, &args.user)?),
        (None, Source::Dir(_)) => None,
    };
    let report = build(&pack, &user, history);
    let mut out = std::io::stdout().lock();
    let io = |source| QueryError::Write {
        stream: "stdout".into(),
        source,
    };
    match args.format {
        ExplainFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)?;
        }
        ExplainFormat::Text => write_text(&mut out, &report).map_err(io)?,
    }
    out.flush().map_err(io)
}

fn opt_ts(t: i64) -> Option<String> {
    (t != crate::state::NEVER_SEEN).then(|| format_ts(t))
}

/// The report of `user`; `history` is the user's tag changes, oldest first.
pub fn build(pack: &RulePack, user: &Found, history: Option<Vec<Value>>) -> Report {
    let state = &user.state;
    let now = user.clock.unwrap_or(state.last_seen());
    let rule_name = |r: u16| {
        pack.rules
            .get(usize::from(r))
            .map_or_else(|| format!("#{r}"), |s| s.name.clone())
    };
    let tags = state
        .tags
        .iter()
        .map(|t| {
            let tag = pack.catalogue.name(t.tag).to_string();
            let since = t.since_known().map(format_ts);
            // The change that added the tag: the latest `add` of it at its `since`.
            let reason = history.as_ref().and_then(|h| {
                h.iter()
                    .rev()
                    .find(|c| {
                        c["tag"] == tag.as_str()
                            && c["op"] == "add"
                            && since.as_deref().is_some_and(|s| c["ts"] == s)
                    })
                    .and_then(|c| c["reason"].as_str().map(str::to_string))
            });
            HeldTag {
                score: t.score().map(|s| (s * 1e4).round() / 1e4),
                since,
                expires_at: (t.expires != NEVER).then(|| format_ts(t.expires)),
                rule: rule_name(t.rule),
                event_id: state.origins.get(t.origin).map(str::to_string),
                reason,
                tag,
            }
        })
        .collect();
    let activity = EventType::ALL
        .iter()
        .map(|kind| TypeActivity {
            kind: kind.as_str(),
            last_days: WINDOWS_DAYS
                .iter()
                .map(|d| (*d, state.windows.count_between(*kind, now, d * DAY_MS, 0)))
                .collect(),
            first: opt_ts(state.first_by_type[kind.index()]),
            last: opt_ts(state.last_by_type[kind.index()]),
        })
        .collect();
    let stats = state.ledger.stats(now, ORDER_WINDOW_DAYS * DAY_MS);
    let orders = Orders {
        window_days: ORDER_WINDOW_DAYS,
        paid: stats.count,
        amount: (stats.amount * 100.0).round() / 100.0,
        promo_share: (stats.promo_share() * 1e4).round() / 1e4,
        last_paid: stats.last.map(format_ts),
        paid_all_time: state.ledger.all_time(now).0,
    };
    let variables = state
        .vars
        .iter()
        .map(|(key, var)| Variable {
            name: name_of(*key).into(),
            value: var_json(var),
        })
        .collect();
    let mut timers: Vec<Timer> = state
        .timers
        .iter()
        .map(|t| Timer {
            rule: rule_name(t.rule),
            due: format_ts(t.due),
        })
        .collect();
    timers.sort_by(|a, b| a.due.cmp(&b.due));
    Report {
        user_id: user.id.clone(),
        as_of: user.clock.map(format_ts),
        first_seen: opt_ts(state.first_seen()),
        last_seen: opt_ts(state.last_seen()),
        events: state.events,
        tags,
        activity,
        orders,
        variables,
        timers,
        changes: history,
    }
}

fn var_json(var: &Var) -> Value {
    match var {
        Var::Int(i) => Value::from(*i),
        Var::Float(f) => Value::from(*f),
        Var::Bool(b) => Value::from(*b),
        Var::Str(s) => Value::from(&**s),
        Var::Decay { value, at } => serde_json::json!({
            "decayed_sum": (value * 1e4).round() / 1e4, "as_of": format_ts(*at)
        }),
        Var::Hits(hits) => serde_json::json!({
            "hits": hits.len(), "last": hits.last().map(|t| format_ts(*t))
        }),
    }
}

/// The changes of `user` in a tag-change file (`run --output`; `-` is stdin), oldest first.
///
/// # Errors
/// Unreadable file; a line that is not a tag change (the wrong file).
pub fn read_history(path: &Path, user: &str) -> Result<Vec<Value>, QueryError> {
    let stream = Stream::input(path);
    let shown = stream.name();
    let mut reader: Box<dyn BufRead> = match stream {
        Stream::Stdin => {
            crate::cli::hint_if_stdin_is_a_terminal("the tag changes");
            Box::new(std::io::stdin().lock())
        }
        // A directory opens, and only its first read fails, with a bare "Is a directory".
        _ if path.is_dir() => {
            return Err(QueryError::Usage(format!(
                "--changes {shown}: a directory; --changes takes the file of tag changes that \
                 `tagstream run --input … --output FILE` wrote"
            )))
        }
        _ => {
            // A misspelt name (`tags.json` for `tags.jsonl`) gets the name meant beside it, as
            // run's --input does, rather than the bare "No such file or directory".
            let file = match crate::pipeline::paths::missing_file(path) {
                Some(missing) => Err(missing),
                None => File::open(path),
            };
            Box::new(BufReader::new(file.map_err(|source| QueryError::Io {
                path: format!("--changes {shown}"),
                source,
            })?))
        }
    };
    let mut changes = Vec::new();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| QueryError::Io {
                path: shown.clone(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let Some(change) = parse_change(&line) else {
            // A run stopped mid-write (killed, a full disk) can leave its last line cut short:
            // the history up to it is still whole.
            if line.last() != Some(&b'\n') {
                tracing::warn!(
                    "{shown}:{number}: the last line is cut short (no line end) and is skipped"
                );
                break;
            }
            return Err(QueryError::Usage(format!(
                "{shown}:{number}: not a tag change (--changes takes the --output of `tagstream run`)"
            )));
        };
        if change["user_id"] == user {
            changes.push(change);
        }
    }
    Ok(changes)
}

/// A tag change as JSON, `None` for anything else.
pub(super) fn parse_change(bytes: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let is_change = value["user_id"].is_string()
        && value["tag"].is_string()
        && matches!(value["op"].as_str(), Some("add" | "remove"));
    is_change.then_some(value)
}

/// `text` as the text report shows an id or a reason: as it is, or quoted with its control
/// characters escaped (`"a\nb"`, as error messages show it) when it has any, so that a line
/// of the report is always one line.
fn shown(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(format!("{text:?}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let or_never = |t: &Option<String>| t.clone().unwrap_or_else(|| "never".into());
    writeln!(
        out,
        "user {}  (state as of {})",
        shown(&r.user_id),
        r.as_of.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "seen: first {}, last {}; events applied: {}",
        or_never(&r.first_seen),
        or_never(&r.last_seen),
        r.events
    )?;
    writeln!(out, "\ntags ({}):", r.tags.len())?;
    for t in &r.tags {
        let score = t.score.map_or(String::new(), |s| format!("  score {s}"));
        writeln!(
            out,
            "  {}{score}  since {}  expires {}",
            t.tag,
            t.since.as_deref().unwrap_or("unknown"),
            or_never(&t.expires_at)
        )?;
        let event = match (&t.event_id, &t.since) {
            (Some(e), _) => format!("event {}", shown(e)),
            (None, Some(_)) => "a timer".to_string(),
            (None, None) => "an event or timer not recorded (older state)".to_string(),
        };
        let reason = match (&t.reason, &r.changes) {
            (Some(reason), _) => format!(": {}", shown(reason)),
            (None, None) => " (reason: pass --changes FILE)".into(),
            (None, Some(_)) => String::new(),
        };
        writeln!(out, "      set by rule {} on {event}{reason}", t.rule)?;
    }
    writeln!(out, "\nactivity (events in the last 7/14/30/90 days):")?;
    for a in &r.activity {
        let counts: Vec<String> = a.last_days.iter().map(|(_, n)| n.to_string()).collect();
        writeln!(
            out,
            "  {:<6} {}  first {}, last {}",
            a.kind,
            counts.join("/"),
            or_never(&a.first),
            or_never(&a.last)
        )?;
    }
    let o = &r.orders;
    writeln!(
        out,
        "orders (last {} days): {} paid, {} yuan, {:.0}% on promotion, last {}; {} paid all time",
        o.window_days,
        o.paid,
        o.amount,
        o.promo_share * 100.0,
        or_never(&o.last_paid),
        o.paid_all_time
    )?;
    if !r.variables.is_empty() {
        writeln!(out, "\nrule variables:")?;
        for v in &r.variables {
            writeln!(out, "  {} = {}", shown(&v.name), v.value)?;
        }
    }
    writeln!(out, "\npending timers ({}):", r.timers.len())?;
    for t in &r.timers {
        writeln!(out, "  rule {} due {}", t.rule, t.due)?;
    }
    if let Some(changes) = &r.changes {
        writeln!(out, "\nchanges ({}, newest last):", changes.len())?;
        for c in changes {
            let text = |k: &str| shown(c[k].as_str().unwrap_or("-")).into_owned();
            let score = c["score"]
                .as_f64()
                .map_or(String::new(), |s| format!(" score {s}"));
            writeln!(
                out,
                "  {}  {:<6} {}{score}  rule {}  event {}  {}",
                text("ts"),
                text("op"),
                text("tag"),
                text("rule"),
                c["event_id"].as_str().map_or("(timer)".into(), shown),
                text("reason")
            )?;
        }
    }
    Ok(())
}
