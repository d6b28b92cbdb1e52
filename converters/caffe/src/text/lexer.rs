//! Tokenizer for the protobuf text format: identifiers, numbers, strings (with C escapes and
//! adjacent-literal concatenation done by the parser), punctuation and `#` comments. Every token
//! carries its 1-based line and column for error messages.

use super::TextError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier (field name, enum value, `true`, `inf`, …).
    Ident(String),
    /// A number literal as written (sign handled by the parser).
    Number(String),
    /// A decoded string literal.
    Str(Vec<u8>),
    /// One of `{ } < > [ ] : , ; -`.
    Punct(char),
}

/// A token with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
}

/// Splits `src` into tokens.
pub fn tokenize(src: &[u8]) -> Result<Vec<Token>, TextError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    while let Some(t) = lx.next()? {
        out.push(t);
    }
    Ok(out)
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }
    fn err(&self, line: u32, col: u32, msg: impl Into<String>) -> TextError {
        TextError {
            line,
            col,
            msg: msg.into(),
        }
    }

    fn next(&mut self) -> Result<Option<Token>, TextError> {
        // Skip blanks and comments.
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => {
                    self.bump();
                }
                Some(b'#') => {
                    while let Some(c) = self.bump() {
                        if c == b'\n' {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        let (line, col) = (self.line, self.col);
        let Some(c) = self.peek() else { return Ok(None) };
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
                self.bump();
            }
            Tok::Ident(String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
        } else if c.is_ascii_digit() || (c == b'.' && self.src.get(self.pos + 1).is_some_and(u8::is_ascii_digit)) {
            let start = self.pos;
            while let Some(c) = self.peek() {
                let exp_sign = (c == b'-' || c == b'+')
                    && self.pos > start
                    && matches!(self.src.get(self.pos - 1), Some(b'e' | b'E'))
                    && !self.src[start..self.pos].starts_with(b"0x")
                    && !self.src[start..self.pos].starts_with(b"0X");
                if c.is_ascii_alphanumeric() || c == b'.' || exp_sign {
                    self.bump();
                } else {
                    break;
                }
            }
            Tok::Number(String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
        } else if c == b'"' || c == b'\'' {
            self.bump();
            Tok::Str(self.string(c, line, col)?)
        } else if b"{}<>[]:,;-".contains(&c) {
            self.bump();
            Tok::Punct(c as char)
        } else {
            let shown = if c.is_ascii_graphic() {
                format!("'{}'", c as char)
            } else {
                format!("byte 0x{c:02x}")
            };
            return Err(self.err(line, col, format!("unexpected character {shown}")));
        };
        Ok(Some(Token { tok, line, col }))
    }

    fn string(&mut self, quote: u8, line: u32, col: u32) -> Result<Vec<u8>, TextError> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err(line, col, "unterminated string"));
            };
            match c {
                b'\n' => return Err(self.err(line, col, "unterminated string (newline inside)")),
                c if c == quote => return Ok(out),
                b'\\' => {
                    let (el, ec) = (self.line, self.col);
                    let Some(e) = self.bump() else {
                        return Err(self.err(line, col, "unterminated string"));
                    };
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'v' => out.push(11),
                        b'\\' | b'\'' | b'"' | b'?' => out.push(e),
                        b'x' | b'X' => {
                            let mut v: u32 = 0;
                            let mut n = 0;
                            while n < 2 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                let d = self.bump().and_then(|c| (c as char).to_digit(16)).unwrap_or(0);
                                v = v * 16 + d;
                                n += 1;
                            }
                            if n == 0 {
                                return Err(self.err(el, ec, "\\x escape without hex digits"));
                            }
                            out.push(v as u8);
                        }
                        b'0'..=b'7' => {
                            let mut v: u32 = (e - b'0') as u32;
                            let mut n = 1;
                            while n < 3 && self.peek().is_some_and(|c| (b'0'..=b'7').contains(&c)) {
                                v = v * 8 + (self.bump().unwrap_or(b'0') - b'0') as u32;
                                n += 1;
                            }
                            if v > 255 {
                                return Err(self.err(el, ec, "octal escape above \\377"));
                            }
                            out.push(v as u8);
                        }
                        other => {
                            return Err(self.err(el, ec, format!("unknown escape '\\{}'", other as char)));
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }
}
