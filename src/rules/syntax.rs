//! Where a syntax error is, as an operator should look for it.
//!
//! Rhai reports a syntax error at the token where it noticed it, which for the commonest
//! slips is not where the fix goes: a `{` never closed is noticed at the end of the file (a
//! line past the last one) or at the next `fn`, and a `;` or `)` missing at the end of a line
//! at the first token of the next. This reads the script's tokens with Rhai's own tokenizer
//! and says, next to Rhai's message, what is certain about the place: the bracket still open
//! there and the line it was opened on, the end of the line before. When the place is not
//! certain (which of two nested `{` lacks its `}`), both are named; nothing is guessed alone.

use rhai::{Engine, ParseError, ParseErrorType, Token};

/// The line to show for syntax error `err` of `text`, and its message: Rhai's, with where the
/// slip most likely is when that is not where Rhai noticed it.
pub fn explain(engine: &Engine, text: &str, err: &ParseError) -> (usize, String) {
    let message = err.err_type().to_string();
    let (Some(line), Some(col)) = (err.position().line(), err.position().position()) else {
        return (err.position().line().unwrap_or(1), message);
    };
    let tokens = tokens(engine, text);
    let at = tokens.partition_point(|t| (t.line, t.col) < (line, col));
    let Some(found) = tokens.get(at) else {
        return (line, message);
    };
    let open = open_at(&tokens[..at]);
    let prev = at.checked_sub(1).map(|i| &tokens[i]);
    let indent = |l: usize| indent_of(text, l);

    if found.kind == Kind::End {
        // Noticed at the end of the file: whatever is open there was never closed.
        let Some(o) = open.last() else {
            let last = prev.map_or(line, |p| p.line);
            return (last, format!("{message}, at the end of the file"));
        };
        let mut text = format!(
            "{message}, at the end of the file; the `{}` opened at line {} is never closed",
            o.open, o.line
        );
        text.push_str(&inner_suspect(&tokens, o, at, &indent));
        return (o.line, text);
    }

    let wanted = wanted_opener(err.err_type());
    let opener = wanted.and_then(|w| open.iter().rev().find(|o| w.matches(o.open)));
    let mut text = message;
    let mut shown = line;
    // A missing `;`, `)`, `,` … noticed at the first token of a line belongs after the last
    // token of the line before (blank lines and comments between are skipped).
    let missing = matches!(err.err_type(), ParseErrorType::MissingToken(..));
    if let Some(p) = prev.filter(|p| missing && p.line < line) {
        text.push_str(&format!(
            ", at the end of line {} (noticed at line {line})",
            p.line
        ));
        shown = p.line;
    }
    if let Some(o) = opener.filter(|o| o.line < line) {
        text.push_str(&format!(
            "; the `{}` opened at line {} is not closed before line {line}",
            o.open, o.line
        ));
        text.push_str(&inner_suspect(&tokens, o, at, &indent));
    }
    (shown, text)
}

/// Which open bracket a syntax error is about.
#[derive(Clone, Copy)]
enum Wanted {
    Brace,
    Paren,
    Bracket,
    /// The innermost, whatever it is: a `,` is missing from the list it opens.
    Any,
}

impl Wanted {
    fn matches(self, open: &str) -> bool {
        match self {
            Wanted::Brace => open == "{" || open == "#{",
            Wanted::Paren => open == "(",
            Wanted::Bracket => open == "[",
            Wanted::Any => true,
        }
    }
}

fn wanted_opener(err: &ParseErrorType) -> Option<Wanted> {
    match err {
        ParseErrorType::MissingToken(t, _) => match t.as_str() {
            "}" => Some(Wanted::Brace),
            ")" => Some(Wanted::Paren),
            "]" => Some(Wanted::Bracket),
            "," => Some(Wanted::Any),
            _ => None,
        },
        // `fn` inside a block: a `{` before it is not closed.
        ParseErrorType::WrongFnDefinition => Some(Wanted::Brace),
        ParseErrorType::UnexpectedEOF => Some(Wanted::Any),
        _ => None,
    }
}

/// When the open `{` `o` holds a `{` … `}` pair whose `}` starts a line indented like `o`'s
/// line rather than like its own `{`'s, that `}` was most likely meant to close `o`, and the
/// inner `{` is the one left open: `" (by the indentation, …)"`, else nothing.
fn inner_suspect(
    tokens: &[Tok],
    o: &Open,
    until: usize,
    indent: &dyn Fn(usize) -> usize,
) -> String {
    if o.open != "{" && o.open != "#{" {
        return String::new();
    }
    let mut stack: Vec<usize> = Vec::new();
    for (i, t) in tokens.iter().enumerate().take(until).skip(o.index + 1) {
        match t.kind {
            Kind::Open(_) => stack.push(i),
            Kind::Close(c) => {
                let Some(j) = stack.pop() else { break };
                let first_of_line = tokens[i - 1].line < t.line;
                let inner = &tokens[j];
                if c == '}'
                    && first_of_line
                    && inner.line > o.line
                    && indent(t.line) == indent(o.line)
                    && indent(t.line) < indent(inner.line)
                {
                    return format!(
                        " (by the indentation, the `}}` at line {} lines up with it, so the `{{` at \
                         line {} may be the one missing its `}}`)",
                        t.line, inner.line
                    );
                }
            }
            Kind::Other | Kind::End => {}
        }
    }
    String::new()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Open(&'static str),
    Close(char),
    Other,
    End,
}

#[derive(Debug)]
struct Tok {
    kind: Kind,
    line: usize,
    col: usize,
}

/// A bracket open at some point: its text, its line, and its index among the tokens.
#[derive(Debug)]
struct Open {
    open: &'static str,
    line: usize,
    index: usize,
}

/// The brackets still open after `tokens`, outermost first. A closer that matches nothing
/// open is skipped (Rhai reports that one where it is).
fn open_at(tokens: &[Tok]) -> Vec<Open> {
    let mut open: Vec<Open> = Vec::new();
    for (index, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::Open(o) => open.push(Open {
                open: o,
                line: t.line,
                index,
            }),
            Kind::Close(_) => {
                open.pop();
            }
            Kind::Other | Kind::End => {}
        }
    }
    open
}

/// The tokens of `text`, as Rhai's tokenizer reads them, up to the end of the text or the
/// first one it cannot read; the last is [`Kind::End`] when the end was reached.
fn tokens(engine: &Engine, text: &str) -> Vec<Tok> {
    let inputs = [text];
    let (lexer, control) = engine.lex(&inputs);
    let mut out = Vec::new();
    // `${` of an interpolated string is a `{` whose `}` returns to the string's text, which the
    // tokenizer is told of as the parser would tell it.
    let mut interpolations: Vec<bool> = Vec::new();
    let mut interpolating = false;
    for (token, pos) in lexer {
        let (line, col) = (pos.line().unwrap_or(0), pos.position().unwrap_or(0));
        let kind = match &token {
            Token::LeftBrace => {
                interpolations.push(std::mem::take(&mut interpolating));
                Kind::Open("{")
            }
            Token::MapStart => {
                interpolations.push(false);
                Kind::Open("#{")
            }
            Token::LeftParen => Kind::Open("("),
            Token::LeftBracket => Kind::Open("["),
            Token::RightBrace => {
                if interpolations.pop() == Some(true) {
                    control.borrow_mut().is_within_text = true;
                }
                Kind::Close('}')
            }
            Token::RightParen => Kind::Close(')'),
            Token::RightBracket => Kind::Close(']'),
            Token::InterpolatedString(_) => {
                interpolating = true;
                Kind::Other
            }
            Token::EOF => Kind::End,
            Token::LexError(_) => break,
            _ => Kind::Other,
        };
        out.push(Tok { kind, line, col });
        if kind == Kind::End {
            break;
        }
    }
    out
}

/// The width of the whitespace line `line` (1-based) starts with.
fn indent_of(text: &str, line: usize) -> usize {
    text.lines()
        .nth(line.wrapping_sub(1))
        .map_or(0, |l| l.chars().take_while(|c| c.is_whitespace()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(text: &str) -> (usize, String) {
        let engine = Engine::new();
        let err = engine.compile(text).expect_err("a syntax error");
        explain(&engine, text, &err)
    }

    #[test]
    fn an_unclosed_brace_is_named_where_it_opens() {
        let (line, msg) = explained("fn on_chat(event, user) {\n    tag(\"a\");\n\n// end\n");
        assert_eq!(line, 1, "{msg}");
        assert_eq!(
            msg,
            "Expecting '}' to terminate this block, at the end of the file; the `{` opened at \
             line 1 is never closed"
        );
    }

    #[test]
    fn a_brace_closed_by_the_wrong_indentation_names_both() {
        let text = "fn a(x) {\n    if x {\n        1;\n\n}\n\nfn b() {\n    2\n}\n";
        let (line, msg) = explained(text);
        assert_eq!(line, 7, "{msg}");
        assert!(
            msg.ends_with(
                "; the `{` opened at line 1 is not closed before line 7 (by the indentation, \
                 the `}` at line 5 lines up with it, so the `{` at line 2 may be the one missing its `}`)"
            ),
            "{msg}"
        );
        // At the end of the file, the same.
        let (line, msg) = explained("fn a(x) {\n    if x {\n        1;\n}\n");
        assert_eq!(line, 1, "{msg}");
        assert!(
            msg.contains("the `{` at line 2 may be the one missing"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_semicolon_or_paren_is_at_the_end_of_the_line_before() {
        let (line, msg) = explained("fn a() {\n    let x = 1\n\n    let y = 2;\n}\n");
        assert_eq!(line, 2, "{msg}");
        assert_eq!(
            msg,
            "Expecting ';' to terminate this statement, at the end of line 2 (noticed at line 4)"
        );
        let (line, msg) = explained("fn a() {\n    print(\"x\"\n}\n");
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.ends_with(
                ", at the end of line 2 (noticed at line 3); the `(` opened at line 2 is not \
                 closed before line 3"
            ),
            "{msg}"
        );
    }

    #[test]
    fn an_error_where_the_slip_is_is_left_as_rhai_says() {
        let text = "fn a() {\n    let x = ;\n}\n";
        let engine = Engine::new();
        let err = engine.compile(text).unwrap_err();
        assert_eq!(
            explain(&engine, text, &err),
            (2, err.err_type().to_string())
        );
        // A bracket opened on the line of the error is not named again.
        let (line, msg) = explained("fn a() {\n    if (1 == 1 {\n    }\n}\n");
        assert_eq!(line, 2);
        assert!(!msg.contains("opened"), "{msg}");
    }

    #[test]
    fn interpolated_strings_keep_their_braces() {
        let text = "fn a(x) {\n    let s = `v ${x} and ${x + 1}`;\n    if x {\n";
        let (line, msg) = explained(text);
        assert_eq!(line, 3, "{msg}");
        assert!(
            msg.contains("the `{` opened at line 3 is never closed"),
            "{msg}"
        );
    }

    #[test]
    fn the_tokens_end_with_the_end_of_the_text() {
        let tokens = tokens(&Engine::new(), "let x = #{ a: [1] };\n");
        let kinds: Vec<Kind> = tokens.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Other,
                Kind::Other,
                Kind::Other,
                Kind::Open("#{"),
                Kind::Other,
                Kind::Other,
                Kind::Open("["),
                Kind::Other,
                Kind::Close(']'),
                Kind::Close('}'),
                Kind::Other,
                Kind::End,
            ]
        );
        assert_eq!(tokens.last().unwrap().line, 2);
    }
}
