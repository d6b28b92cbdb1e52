//! Tokens of the Python subset TorchScript serializes into `code/`: names, numbers, strings,
//! operators and brackets, with Python's line structure (NEWLINE, INDENT, DEDENT; newlines
//! inside brackets continue the line). Every token carries its 1-based source line.

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Name(String),
    /// An integer literal (unsigned; a leading `-` is a separate operator). Kept wide so that
    /// `-9223372036854775808` can be formed.
    Int(u128),
    Float(f64),
    Str(String),
    /// An operator or punctuation: `( ) [ ] { } , : ; . = -> + - * / // % ** == != < > <= >= += -= *= /= @ & | ^ ~ << >>`.
    Op(&'static str),
    Newline,
    Indent,
    Dedent,
    Eof,
}

/// A token and its line.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
}

/// A lexing failure at a line.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub line: u32,
    pub msg: String,
}

const OPS: &[&str] = &[
    "->", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "<<", ">>", "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "+",
    "-", "*", "/", "%", "<", ">", "@", "&", "|", "^", "~", ";",
];

/// Deepest indentation stack accepted (hostile input bound).
const MAX_INDENT: usize = 200;
/// Deepest bracket nesting accepted (keeps the recursive-descent parser's stack small).
const MAX_BRACKETS: usize = 48;
/// Most tokens one file may produce.
const MAX_TOKENS: usize = 1 << 24;

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut indents: Vec<usize> = vec![0];
    let mut depth = 0usize; // bracket nesting
    let mut line: u32 = 1;
    let mut i = 0usize;
    let mut at_line_start = true;
    let err = |line: u32, msg: String| LexError { line, msg };
    while i < b.len() {
        if out.len() > MAX_TOKENS {
            return Err(err(line, "too many tokens".into()));
        }
        if at_line_start && depth == 0 {
            // Measure indentation; skip blank and comment-only lines.
            let mut col = 0usize;
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                col += if b[j] == b'\t' { 8 - col % 8 } else { 1 };
                j += 1;
            }
            if j >= b.len() {
                break;
            }
            if b[j] == b'\n' || b[j] == b'\r' || b[j] == b'#' {
                while j < b.len() && b[j] != b'\n' {
                    j += 1;
                }
                i = j + 1;
                line = line.saturating_add(1);
                continue;
            }
            let cur = indents.last().copied().unwrap_or(0);
            if col > cur {
                if indents.len() >= MAX_INDENT {
                    return Err(err(line, "indentation nested too deep".into()));
                }
                indents.push(col);
                out.push(Token { tok: Tok::Indent, line });
            } else {
                while col < indents.last().copied().unwrap_or(0) {
                    indents.pop();
                    out.push(Token { tok: Tok::Dedent, line });
                }
                if col != indents.last().copied().unwrap_or(0) {
                    return Err(err(line, "inconsistent dedent".into()));
                }
            }
            i = j;
            at_line_start = false;
        }
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                if depth == 0 && !matches!(out.last().map(|t| &t.tok), Some(Tok::Newline) | None) {
                    out.push(Token { tok: Tok::Newline, line });
                }
                line = line.saturating_add(1);
                at_line_start = depth == 0;
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                line = line.saturating_add(1);
                i += 2;
            }
            b'"' | b'\'' => {
                let (s, n, lines) = string(&b[i..]).map_err(|m| err(line, m))?;
                out.push(Token { tok: Tok::Str(s), line });
                line = line.saturating_add(lines);
                i += n;
            }
            b'0'..=b'9' => {
                let (t, n) = number(&b[i..]).map_err(|m| err(line, m))?;
                out.push(Token { tok: t, line });
                i += n;
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (t, n) = number(&b[i..]).map_err(|m| err(line, m))?;
                out.push(Token { tok: t, line });
                i += n;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let s = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let name = String::from_utf8_lossy(&b[s..i]).into_owned();
                out.push(Token {
                    tok: Tok::Name(name),
                    line,
                });
            }
            _ => {
                let op = OPS
                    .iter()
                    .find(|o| b[i..].starts_with(o.as_bytes()))
                    .ok_or_else(|| err(line, format!("unexpected character {:?}", char::from(c))))?;
                match *op {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.checked_sub(1).ok_or_else(|| err(line, format!("unbalanced '{op}'")))?,
                    _ => {}
                }
                if depth > MAX_BRACKETS {
                    return Err(err(line, "brackets nested too deep".into()));
                }
                out.push(Token { tok: Tok::Op(op), line });
                i += op.len();
            }
        }
    }
    if depth != 0 {
        return Err(err(line, "unclosed bracket at end of file".into()));
    }
    if !matches!(out.last().map(|t| &t.tok), Some(Tok::Newline) | None) {
        out.push(Token { tok: Tok::Newline, line });
    }
    while indents.len() > 1 {
        indents.pop();
        out.push(Token { tok: Tok::Dedent, line });
    }
    out.push(Token { tok: Tok::Eof, line });
    Ok(out)
}

/// A quoted string at the start of `b`: its value, bytes consumed and newlines inside.
fn string(b: &[u8]) -> Result<(String, usize, u32), String> {
    let q = b[0];
    let triple = b.len() >= 3 && b[1] == q && b[2] == q;
    let mut i = if triple { 3 } else { 1 };
    let mut out = Vec::new();
    let mut lines = 0u32;
    loop {
        let Some(&c) = b.get(i) else {
            return Err("unterminated string".into());
        };
        if c == q {
            if !triple {
                i += 1;
                break;
            }
            if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                i += 3;
                break;
            }
        }
        if c == b'\n' {
            if !triple {
                return Err("newline inside a string".into());
            }
            lines += 1;
        }
        if c == b'\\' {
            let e = *b.get(i + 1).ok_or("unterminated escape")?;
            i += 2;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'0' => out.push(0),
                b'\\' | b'\'' | b'"' => out.push(e),
                b'\n' => lines += 1,
                b'x' => {
                    let h = b.get(i..i + 2).ok_or("short \\x escape")?;
                    let v = u8::from_str_radix(std::str::from_utf8(h).map_err(|_| "bad \\x escape")?, 16).map_err(|_| "bad \\x escape")?;
                    out.push(v);
                    i += 2;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), i, lines))
}

/// A number at the start of `b`.
fn number(b: &[u8]) -> Result<(Tok, usize), String> {
    let mut i = 0;
    if b.starts_with(b"0x") || b.starts_with(b"0X") {
        i = 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        let s = std::str::from_utf8(&b[2..i]).map_err(|_| "bad hex literal")?;
        let v = u128::from_str_radix(s, 16).map_err(|_| format!("hex literal 0x{s} is too large"))?;
        return Ok((Tok::Int(v), i));
    }
    let mut float = false;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        float = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            float = true;
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    let s = std::str::from_utf8(&b[..i]).map_err(|_| "bad number")?;
    if float {
        let v: f64 = s.parse().map_err(|_| format!("bad float literal {s}"))?;
        Ok((Tok::Float(v), i))
    } else {
        let v: u128 = s.parse().map_err(|_| format!("integer literal {s} is too large"))?;
        Ok((Tok::Int(v), i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_indents() {
        let t = lex("class A(Module):\n  def f(self,\n    x: Tensor) -> Tensor:\n    return x\n").unwrap();
        let kinds: Vec<_> = t.iter().map(|t| t.tok.clone()).collect();
        assert!(kinds.contains(&Tok::Indent));
        assert_eq!(t.iter().filter(|t| t.tok == Tok::Dedent).count(), 2);
        let ret = t.iter().find(|t| t.tok == Tok::Name("return".into())).unwrap();
        assert_eq!(ret.line, 4);
    }

    #[test]
    fn numbers_and_strings() {
        let t = lex("x = f(1.0000000000000001e-05, 0., 9223372036854775807, \"a\\\"b\")\n").unwrap();
        assert!(t.iter().any(|t| t.tok == Tok::Float(1e-5)));
        assert!(t.iter().any(|t| t.tok == Tok::Float(0.0)));
        assert!(t.iter().any(|t| t.tok == Tok::Int(9223372036854775807)));
        assert!(t.iter().any(|t| t.tok == Tok::Str("a\"b".into())));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(lex("x = 1\ny = \"open\n").unwrap_err().line, 2);
        assert_eq!(lex("a\nb = (1,\n").unwrap_err().msg, "unclosed bracket at end of file");
    }
}
