//! JSON lines from a file or stdin, read in bounded memory: [`LineReader`] reads lines,
//! [`Feed`] reads them on a thread of its own so that the consumer can wait with a timeout (a
//! live pipe that goes quiet, a signal to notice).

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::decode::MAX_EVENT_BYTES;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads one record per line. A line longer than [`MAX_EVENT_BYTES`] is not buffered whole:
/// its first `MAX_EVENT_BYTES + 1` bytes are kept (enough for the decoder to call it oversize)
/// and the rest is skipped, so one huge line cannot exhaust memory. A UTF-8 byte-order mark
/// opening the input is skipped.
pub struct LineReader<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    /// Blank (empty or whitespace-only) lines skipped so far.
    pub blank_lines: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R) -> LineReader<R> {
        LineReader {
            input,
            line: 0,
            buf: Vec::with_capacity(4096),
            blank_lines: 0,
        }
    }

    /// The reader lines are read from.
    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// The next line (1-based number, bytes without the newline); `None` at end of input.
    /// Blank lines are skipped but counted ([`LineReader::blank_lines`]).
    ///
    /// # Errors
    /// I/O errors of the underlying reader.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        loop {
            self.buf.clear();
            let mut saw_any = false;
            loop {
                let available = self.input.fill_buf()?;
                if available.is_empty() {
                    break;
                }
                saw_any = true;
                let (chunk, used, done) = match memchr::memchr(b'\n', available) {
                    Some(i) => (&available[..i], i + 1, true),
                    None => (available, available.len(), false),
                };
                let room = (MAX_EVENT_BYTES + 1).saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                self.input.consume(used);
                if done {
                    break;
                }
            }
            if !saw_any {
                return Ok(None);
            }
            self.line += 1;
            if self.line == 1 && self.buf.starts_with(BOM) {
                self.buf.drain(..BOM.len());
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                self.blank_lines += 1;
                continue;
            }
            return Ok(Some((self.line, &self.buf)));
        }
    }
}

/// What a line source has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A record: its 1-based line number and its bytes, without the line ending.
    Line(u64, &'a [u8]),
    /// No line arrived within the wait; more may come.
    Waiting,
    End,
}

/// Lines one at a time, with a bounded wait.
pub trait LineSource {
    /// The next line, waiting at most `wait` for one.
    ///
    /// # Errors
    /// I/O errors of the input.
    fn next_line(&mut self, wait: Duration) -> io::Result<Next<'_>>;

    /// Blank lines skipped so far.
    fn blank_lines(&self) -> u64;
}

impl<R: BufRead> LineSource for LineReader<R> {
    /// Reads in place: never [`Next::Waiting`].
    fn next_line(&mut self, _wait: Duration) -> io::Result<Next<'_>> {
        Ok(match LineReader::next_line(self)? {
            Some((n, line)) => Next::Line(n, line),
            None => Next::End,
        })
    }

    fn blank_lines(&self) -> u64 {
        self.blank_lines
    }
}

/// Lines read together and handed over at once.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    /// Line number and end offset in `bytes` of each line.
    lines: Vec<(u64, usize)>,
    /// Blank lines read so far, in total.
    blank_lines: u64,
}

/// A chunk is handed over once it holds this many bytes ...
const CHUNK_BYTES: usize = 256 * 1024;
/// ... or this many lines, or when the input has nothing more buffered (a live pipe).
const CHUNK_LINES: usize = 1_024;

/// Reads lines on a thread of its own, so that waiting for input never blocks the consumer for
/// longer than it asks: it can flush its outputs while a live pipe is quiet and stop on a signal
/// while the producer is stalled. Dropping the feed lets the thread end at its next line (a
/// thread blocked reading ends with the process).
pub struct Feed {
    rx: Receiver<io::Result<Chunk>>,
    chunk: Chunk,
    next: usize,
    ended: bool,
}

impl Feed {
    /// # Errors
    /// The reader thread cannot be started.
    pub fn spawn(input: impl Read + Send + 'static) -> io::Result<Feed> {
        let (tx, rx) = sync_channel(4);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                let mut reader = LineReader::new(BufReader::with_capacity(1 << 16, input));
                let mut chunk = Chunk::default();
                loop {
                    match reader.next_line() {
                        Ok(Some((n, line))) => {
                            chunk.bytes.extend_from_slice(line);
                            chunk.lines.push((n, chunk.bytes.len()));
                        }
                        Ok(None) => {
                            chunk.blank_lines = reader.blank_lines;
                            let _ = tx.send(Ok(chunk));
                            return;
                        }
                        Err(e) => {
                            let _ = tx.send(Ok(std::mem::take(&mut chunk)));
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                    if chunk.bytes.len() >= CHUNK_BYTES
                        || chunk.lines.len() >= CHUNK_LINES
                        || reader.get_ref().buffer().is_empty()
                    {
                        chunk.blank_lines = reader.blank_lines;
                        if tx.send(Ok(std::mem::take(&mut chunk))).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok(Feed {
            rx,
            chunk: Chunk::default(),
            next: 0,
            ended: false,
        })
    }
}

impl LineSource for Feed {
    fn next_line(&mut self, wait: Duration) -> io::Result<Next<'_>> {
        while self.next >= self.chunk.lines.len() {
            if self.ended {
                return Ok(Next::End);
            }
            match self.rx.recv_timeout(wait) {
                Ok(chunk) => {
                    let blank_lines = self.chunk.blank_lines;
                    self.chunk = chunk?;
                    self.chunk.blank_lines = self.chunk.blank_lines.max(blank_lines);
                    self.next = 0;
                }
                Err(RecvTimeoutError::Timeout) => return Ok(Next::Waiting),
                Err(RecvTimeoutError::Disconnected) => self.ended = true,
            }
        }
        let (n, end) = self.chunk.lines[self.next];
        let start = match self.next {
            0 => 0,
            i => self.chunk.lines[i - 1].1,
        };
        self.next += 1;
        Ok(Next::Line(n, &self.chunk.bytes[start..end]))
    }

    fn blank_lines(&self) -> u64 {
        self.chunk.blank_lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_skips_blanks() {
        let mut r = LineReader::new(&b"a\n\n  \r\nb\r\nc"[..]);
        let mut seen = Vec::new();
        while let Some((n, line)) = r.next_line().unwrap() {
            seen.push((n, line.to_vec()));
        }
        assert_eq!(
            seen,
            [(1, b"a".to_vec()), (4, b"b".to_vec()), (5, b"c".to_vec())]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_blank_lines_counted() {
        let mut r = LineReader::new(&b"\xEF\xBB\xBF{}\n\n \n\xEF\xBB\xBF{}\n"[..]);
        assert_eq!(r.next_line().unwrap(), Some((1, &b"{}"[..])));
        // Only the input's first bytes can be a byte-order mark.
        assert_eq!(r.next_line().unwrap(), Some((4, &b"\xEF\xBB\xBF{}"[..])));
        assert_eq!(r.next_line().unwrap(), None);
        assert_eq!(r.blank_lines, 2);
    }

    #[test]
    fn a_feed_hands_over_every_line_and_waits_on_a_quiet_pipe() {
        let mut text = Vec::new();
        for i in 0..5_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
            if i % 1_000 == 0 {
                text.push(b'\n');
            }
        }
        let mut feed = Feed::spawn(io::Cursor::new(text)).unwrap();
        let mut seen = 0;
        loop {
            match feed.next_line(Duration::from_secs(5)).unwrap() {
                Next::Line(_, line) => {
                    assert_eq!(line, format!("line {seen}").as_bytes());
                    seen += 1;
                }
                Next::Waiting => panic!("a cursor never keeps the reader waiting"),
                Next::End => break,
            }
        }
        assert_eq!((seen, feed.blank_lines()), (5_000, 5));

        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut feed = Feed::spawn(reader).unwrap();
        std::io::Write::write_all(&mut writer, b"first\n").unwrap();
        let wait = Duration::from_secs(5);
        assert_eq!(feed.next_line(wait).unwrap(), Next::Line(1, b"first"));
        let short = Duration::from_millis(20);
        assert_eq!(feed.next_line(short).unwrap(), Next::Waiting);
        drop(writer);
        assert_eq!(feed.next_line(wait).unwrap(), Next::End);
    }

    #[test]
    fn oversize_lines_are_capped() {
        let mut text = vec![b'x'; MAX_EVENT_BYTES * 3];
        text.extend_from_slice(b"\nnext\n");
        let mut r = LineReader::new(io::BufReader::with_capacity(8192, &text[..]));
        let (_, first) = r.next_line().unwrap().unwrap();
        assert_eq!(first.len(), MAX_EVENT_BYTES + 1);
        assert_eq!(r.next_line().unwrap().unwrap(), (2, &b"next"[..]));
    }
}
