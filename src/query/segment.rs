//! `tagstream segment EXPR`: the users whose current tags match, as CSV or JSON lines, or
//! their number. Users are written as they are read: memory stays flat however many there are.

use std::io::Write;

use serde::Serialize;

use super::{each_user, open, Found, QueryError, SegmentArgs, SegmentFormat};
use crate::pipeline::paths::{self, Stream};
use crate::sink::replace::Replacement;
use crate::tags::{format_ts, Catalogue, TagSlot, NEVER};

/// Runs the command.
///
/// # Errors
/// A bad expression (before anything is read), an unreadable source, an unwritable output.
pub fn run(args: &SegmentArgs) -> Result<(), QueryError> {
    let (_, pack, source) = open(&args.source)?;
    let segment = super::Segment::parse(&args.expr, &pack.catalogue)?;
    let output = Stream::output(&args.output);
    if let super::Source::Dir(dir) = &source {
        paths::check_state(&[&output], dir).map_err(QueryError::Usage)?;
    }
    // Replaced only once every user is written: a state that turns out damaged, or a failed
    // write, leaves the file as it was.
    let mut out = Replacement::open(&args.output).map_err(|source| QueryError::Io {
        path: format!(
            "cannot create {}{}",
            args.output.display(),
            crate::sink::file::why_not_created(&args.output, crate::sink::file::OUTPUT_TAKES)
        ),
        source,
    })?;
    let stream = output.name();
    let io = |source| QueryError::Write {
        stream: stream.clone(),
        source,
    };
    let mut writer = Writer {
        catalogue: &pack.catalogue,
        groups: &segment.groups,
        format: args.format,
        line: Vec::new(),
    };
    // The header goes out with the first user (or at the end), so that a source that cannot
    // be read leaves the output empty rather than a header without rows.
    let with_header = !args.count && args.format == SegmentFormat::Csv;
    let mut started = false;
    let mut start = |writer: &mut Writer, out: &mut dyn Write| {
        if with_header && !std::mem::replace(&mut started, true) {
            writer.header();
            out.write_all(&writer.line).map_err(io)?;
        }
        Ok::<(), QueryError>(())
    };
    let mut count = 0_u64;
    each_user(&source, &pack, &mut |user: Found| {
        if segment.matches(&user.state.tags) {
            count += 1;
            if !args.count {
                start(&mut writer, &mut out)?;
                writer.user(&user);
                out.write_all(&writer.line).map_err(io)?;
            }
        }
        Ok(true)
    })?;
    start(&mut writer, &mut out)?;
    if args.count {
        writeln!(out, "{count}").map_err(io)?;
    }
    out.finish().map_err(io)
}

/// Formats one line at a time into `line`.
struct Writer<'a> {
    catalogue: &'a Catalogue,
    groups: &'a [usize],
    format: SegmentFormat,
    line: Vec<u8>,
}

#[derive(Serialize)]
struct TagJson<'a> {
    tag: &'a str,
    score: Option<f64>,
    since: Option<String>,
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct UserJson<'a> {
    user_id: &'a str,
    tags: Vec<TagJson<'a>>,
}

impl Writer<'_> {
    /// `user_id`, then per group of the expression: its tags, their scores, since when.
    fn header(&mut self) {
        self.line.clear();
        let mut cells = vec!["user_id".to_string()];
        for g in self.groups {
            let name = &self.catalogue.group(*g).name;
            cells.extend([
                name.clone(),
                format!("{name}_score"),
                format!("{name}_since"),
            ]);
        }
        write_csv_row(&mut self.line, cells.iter().map(String::as_str));
    }

    fn user(&mut self, user: &Found) {
        let (catalogue, groups) = (self.catalogue, self.groups);
        let tags = &user.state.tags;
        self.line.clear();
        match self.format {
            SegmentFormat::Csv => {
                let mut cells = vec![user.id.clone()];
                for g in groups {
                    let held: Vec<&TagSlot> = tags_of(catalogue, tags, *g).collect();
                    let join = |f: &dyn Fn(&TagSlot) -> String| {
                        held.iter().map(|t| f(t)).collect::<Vec<_>>().join(";")
                    };
                    cells.push(join(&|t| catalogue.name(t.tag).to_string()));
                    cells.push(join(&|t| t.score().map(fmt_score).unwrap_or_default()));
                    cells.push(join(&|t| {
                        t.since_known().map(format_ts).unwrap_or_default()
                    }));
                }
                write_csv_row(&mut self.line, cells.iter().map(String::as_str));
            }
            SegmentFormat::Jsonl => {
                let json = UserJson {
                    user_id: &user.id,
                    tags: groups
                        .iter()
                        .flat_map(|g| tags_of(catalogue, tags, *g))
                        .map(|t| TagJson {
                            tag: catalogue.name(t.tag),
                            score: t.score().map(|s| (s * 1e4).round() / 1e4),
                            since: t.since_known().map(format_ts),
                            expires_at: (t.expires != NEVER).then(|| format_ts(t.expires)),
                        })
                        .collect(),
                };
                // Plain strings and numbers serialise into a Vec without fail.
                serde_json::to_writer(&mut self.line, &json).expect("segment row serialises");
                self.line.push(b'\n');
            }
        }
    }
}

/// The tags of `group` among `tags`.
fn tags_of<'u>(
    catalogue: &'u Catalogue,
    tags: &'u [TagSlot],
    group: usize,
) -> impl Iterator<Item = &'u TagSlot> + 'u {
    tags.iter()
        .filter(move |t| catalogue.info(t.tag).group == group)
}

/// A score as the output stream writes it (four decimals, no trailing zeros).
fn fmt_score(s: f64) -> String {
    let rounded = (s * 1e4).round() / 1e4;
    serde_json::to_string(&rounded).unwrap_or_default()
}

/// One CSV record (RFC 4180 quoting, `\n` line ends): fields quoted when they hold a comma,
/// quote or line break.
fn write_csv_row<'a>(line: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            line.push(b'"');
            line.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            line.push(b'"');
        } else {
            line.extend_from_slice(cell.as_bytes());
        }
    }
    line.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut line = Vec::new();
        write_csv_row(&mut line, ["a", "b,c", "say \"hi\"", ""].into_iter());
        assert_eq!(line, b"a,\"b,c\",\"say \"\"hi\"\"\",\n");
    }

    #[test]
    fn scores_print_like_the_output_stream() {
        assert_eq!(fmt_score(4.123456), "4.1235");
        assert_eq!(fmt_score(2.0), "2.0");
    }
}
