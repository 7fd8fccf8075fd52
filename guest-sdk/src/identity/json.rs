//! Reads the Fabric CA attribute JSON, `{"attrs": {"name": "value", …}}`, as Go's `json.Unmarshal` into
//! `struct { Attrs map[string]string }` does. A general JSON parser (serde_json's `Value`) cost a chaincode module
//! some 50 KB for these few bytes; this reader validates the whole text but keeps only the attribute strings.
//!
//! Go's rules kept here: the member name matches case-insensitively, several matching members merge into one map
//! (a `null` one resets it), other members are ignored, an attribute value must be a string (`null` reads as "").

/// Nesting deeper than this is refused rather than risking the guest's stack.
const MAX_DEPTH: usize = 128;

/// Attribute names and values, each name once. A vector rather than a map: a certificate holds a handful, and
/// every map type costs module size.
pub(super) type Attributes = Vec<(String, String)>;

/// The attributes, `None` when there is no `attrs` member or it is `null`.
pub(super) fn attributes(json: &[u8]) -> Result<Option<Attributes>, String> {
    let text = String::from_utf8_lossy(json);
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err("the attribute extension is not a JSON object".into());
    }
    let mut attrs: Option<Attributes> = None;
    p.object(|p, name| {
        if !name.eq_ignore_ascii_case("attrs") {
            return p.skip_value(1);
        }
        if p.literal("null") {
            attrs = None;
            return Ok(());
        }
        if p.peek() != Some(b'{') {
            return Err("attrs is not a JSON object".into());
        }
        let map = attrs.get_or_insert_with(Vec::new);
        p.object(|p, attr| {
            let value = if p.literal("null") {
                String::new()
            } else if p.peek() == Some(b'"') {
                p.string()?
            } else {
                return Err(format!("attribute {attr:?} is not a string"));
            };
            // A repeated name: the last value wins, as in a Go map.
            match map.iter_mut().find(|(name, _)| *name == attr) {
                Some(entry) => entry.1 = value,
                None => map.push((attr, value)),
            }
            Ok(())
        })
    })?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.error("trailing data after the JSON value"));
    }
    Ok(attrs)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at offset {}", self.i)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", char::from(b))))
        }
    }

    /// Consumes `word` (after whitespace) if it is next.
    fn literal(&mut self, word: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// An object whose member values `member` consumes, given each name.
    fn object(&mut self, mut member: impl FnMut(&mut Self, String) -> Result<(), String>) -> Result<(), String> {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let name = self.string()?;
            self.eat(b':')?;
            self.ws();
            member(self, name)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    /// Any value, validated and dropped.
    fn skip_value(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.error("JSON nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(|p, _| p.skip_value(depth + 1)),
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.literal("true") || self.literal("false") || self.literal("null") => Ok(()),
            _ => Err(self.error("invalid JSON value")),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), String> {
        let digits = |p: &mut Self| {
            let start = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            if p.i == start {
                Err(p.error("invalid number"))
            } else {
                Ok(())
            }
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            digits(self)?;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            digits(self)?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            digits(self)?;
        }
        Ok(())
    }

    /// A string literal; lone surrogate escapes become U+FFFD, as in Go.
    fn string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | 0..=0x1f)) {
                self.i += 1;
            }
            // Only ASCII bytes stop the scan, so both ends are on character boundaries of the (valid) text.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).expect("valid UTF-8"));
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let simple = match self.peek() {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        _ => return Err(self.error("invalid escape")),
                    };
                    self.i += 1;
                    match simple {
                        Some(c) => out.push(c),
                        None => out.push(self.unicode_escape()?),
                    }
                }
                _ => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The character of `XXXX` (after `\u`), combined with a following `\uXXXX` low surrogate; a lone
    /// surrogate is U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return Ok(char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        if self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).expect("a valid surrogate pair"));
            }
            self.i = save; // not a low surrogate: that escape is read on its own
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.i..self.i + 4).ok_or_else(|| self.error("truncated \\u escape"))?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.error("invalid \\u escape"));
        }
        let v = digits.iter().fold(0, |acc, &d| (acc << 4) | char::from(d).to_digit(16).expect("a hex digit"));
        self.i += 4;
        Ok(v)
    }
}
