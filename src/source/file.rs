//! JSON lines from a file or stdin, read in bounded memory.

use std::io::{self, BufRead};

use crate::decode::MAX_EVENT_BYTES;

/// Reads one record per line. A line longer than [`MAX_EVENT_BYTES`] is not buffered whole:
/// its first `MAX_EVENT_BYTES + 1` bytes are kept (enough for the decoder to call it oversize)
/// and the rest is skipped, so one huge line cannot exhaust memory.
pub struct LineReader<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R) -> LineReader<R> {
        LineReader {
            input,
            line: 0,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next line (1-based number, bytes without the newline); `None` at end of input.
    /// Blank lines are skipped but counted.
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
                let (chunk, used, done) = match available.iter().position(|b| *b == b'\n') {
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
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some((self.line, &self.buf)));
        }
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
    fn oversize_lines_are_capped() {
        let mut text = vec![b'x'; MAX_EVENT_BYTES * 3];
        text.extend_from_slice(b"\nnext\n");
        let mut r = LineReader::new(io::BufReader::with_capacity(8192, &text[..]));
        let (_, first) = r.next_line().unwrap().unwrap();
        assert_eq!(first.len(), MAX_EVENT_BYTES + 1);
        assert_eq!(r.next_line().unwrap().unwrap(), (2, &b"next"[..]));
    }
}
