//! The text form's lexer: turns text into tokens with their line and column.
//!
//! Whitespace (newlines included) only separates tokens; statements are told apart by their
//! first token, so the parser does not depend on line breaks.

use super::parse::ParseError;

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`
    Ident(String),
    /// A number as written: `12`, `-3`, `0.5`, `1e-7`, `-inf`.
    Num(String),
    /// A byte written `0xhh`.
    Hex(u8),
    /// A quoted string's bytes (escapes resolved).
    Str(Vec<u8>),
    /// `%name` or `%"name"`: a value reference.
    Value(Vec<u8>),
    /// Punctuation: one of `{ } [ ] ( ) < > , = : | # @ ?`, or `::` as ':' twice.
    Punct(char),
    /// `::`
    DoubleColon,
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Hex(b) => format!("byte 0x{b:02x}"),
            Tok::Str(_) => "a string".into(),
            Tok::Value(_) => "a value reference".into(),
            Tok::Punct(c) => format!("'{c}'"),
            Tok::DoubleColon => "'::'".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token with its 1-based position.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

/// Characters allowed in a bare `%name` (a ':' only when another name character follows).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':')
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn err(&self, line: usize, col: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            line,
            col,
            msg: msg.into(),
        }
    }

    fn string(&mut self, line: usize, col: usize) -> Result<Vec<u8>, ParseError> {
        // The opening quote has been consumed.
        let mut out = Vec::new();
        loop {
            let (l, c) = (self.line, self.col);
            match self.bump() {
                None => return Err(self.err(line, col, "unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push(b'"'),
                    Some('\\') => out.push(b'\\'),
                    Some('n') => out.push(b'\n'),
                    Some('t') => out.push(b'\t'),
                    Some('r') => out.push(b'\r'),
                    Some(k @ ('u' | 'x')) => {
                        if self.bump() != Some('{') {
                            return Err(self.err(l, c, format!("expected '{{' after \\{k}")));
                        }
                        let mut hex = String::new();
                        loop {
                            match self.bump() {
                                Some('}') => break,
                                Some(h) if h.is_ascii_hexdigit() && hex.len() < 8 => hex.push(h),
                                _ => {
                                    return Err(self.err(l, c, "bad escape: expected hex digits and '}'"));
                                }
                            }
                        }
                        let n = u32::from_str_radix(&hex, 16).map_err(|_| self.err(l, c, "bad escape"))?;
                        if k == 'x' {
                            let b = u8::try_from(n).map_err(|_| self.err(l, c, "\\x{..} escape above ff"))?;
                            out.push(b);
                        } else {
                            let ch = char::from_u32(n).ok_or_else(|| self.err(l, c, "\\u{..} is not a character"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    _ => return Err(self.err(l, c, "unknown escape")),
                },
                Some(ch) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }

    fn number(&mut self, first: char) -> String {
        let mut s = String::new();
        s.push(first);
        let mut prev = first;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphanumeric() || c == '.' || ((c == '-' || c == '+') && matches!(prev, 'e' | 'E'));
            if !ok {
                break;
            }
            s.push(c);
            prev = c;
            self.bump();
        }
        s
    }
}

/// Splits text into tokens; the last one is `Eof`.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        chars: text.chars().peekable(),
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        while lx.peek().is_some_and(char::is_whitespace) {
            lx.bump();
        }
        let (line, col) = (lx.line, lx.col);
        let Some(c) = lx.bump() else {
            out.push(Token { tok: Tok::Eof, line, col });
            return Ok(out);
        };
        let tok = match c {
            '"' => Tok::Str(lx.string(line, col)?),
            '%' => {
                if lx.peek() == Some('"') {
                    lx.bump();
                    Tok::Value(lx.string(line, col)?)
                } else {
                    let mut s = String::new();
                    while let Some(ch) = lx.peek() {
                        if !is_name_char(ch) {
                            break;
                        }
                        if ch == ':' {
                            // A ':' belongs to the name only when a name character follows it.
                            let mut ahead = lx.chars.clone();
                            ahead.next();
                            if !ahead.next().is_some_and(is_name_char) {
                                break;
                            }
                        }
                        s.push(ch);
                        lx.bump();
                    }
                    if s.is_empty() {
                        return Err(lx.err(line, col, "expected a value name after '%'"));
                    }
                    Tok::Value(s.into_bytes())
                }
            }
            ':' if lx.peek() == Some(':') => {
                lx.bump();
                Tok::DoubleColon
            }
            '{' | '}' | '[' | ']' | '(' | ')' | '<' | '>' | ',' | '=' | ':' | '|' | '#' | '@' | '?' => Tok::Punct(c),
            '0' if lx.peek() == Some('x') => {
                lx.bump();
                let mut hex = String::new();
                while let Some(h) = lx.peek().filter(char::is_ascii_hexdigit) {
                    hex.push(h);
                    lx.bump();
                }
                if hex.is_empty() || hex.len() > 2 {
                    return Err(lx.err(line, col, "a byte is written 0x followed by one or two hex digits"));
                }
                Tok::Hex(u8::from_str_radix(&hex, 16).map_err(|_| lx.err(line, col, "bad hex byte"))?)
            }
            c if c.is_ascii_digit() => Tok::Num(lx.number(c)),
            '-' | '+' if lx.peek().is_some_and(|n| n.is_ascii_alphanumeric() || n == '.') => Tok::Num(lx.number(c)),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::new();
                s.push(c);
                while let Some(ch) = lx.peek().filter(|ch| ch.is_ascii_alphanumeric() || *ch == '_') {
                    s.push(ch);
                    lx.bump();
                }
                Tok::Ident(s)
            }
            other => return Err(lx.err(line, col, format!("unexpected character {other:?}"))),
        };
        out.push(Token { tok, line, col });
    }
}
