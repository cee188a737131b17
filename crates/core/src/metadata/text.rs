//! Text from metadata: decoding, trimming, length caps and photographer-name clean-up.

/// Longest text value kept (in characters); longer values are cut (IndexedDB and UI sanity).
pub const MAX_TEXT_CHARS: usize = 2000;

/// Decodes metadata text: UTF-8 when valid, else Latin-1 (what older cameras and IIM without
/// a declared character set use). Stops at the first NUL, trims whitespace and control
/// characters, collapses inner runs of whitespace and caps the length.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    let bytes = match bytes.iter().position(|&b| b == 0) {
        Some(n) => &bytes[..n],
        None => bytes,
    };
    let s: String = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    };
    clean(&s)
}

/// Trims, drops control characters, collapses whitespace and caps the length.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= MAX_TEXT_CHARS {
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// UCS-2 little-endian text of Windows' XP* tags.
pub(crate) fn decode_ucs2le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    clean(&String::from_utf16_lossy(&units))
}

/// A person's name from a copyright notice: drops `©`, `(c)`, "Copyright", years and year
/// ranges, and "All rights reserved". `None` when nothing name-like is left.
pub(crate) fn name_from_copyright(s: &str) -> Option<String> {
    let mut t = s.to_string();
    for pat in ["all rights reserved", "copyright", "(c)", "©", "℗"] {
        // ASCII lower-casing keeps byte offsets, so `at` indexes `t` too.
        while let Some(at) = t.to_ascii_lowercase().find(pat) {
            t.replace_range(at..at + pat.len(), " ");
        }
    }
    let words: Vec<&str> = t
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| matches!(c, ';' | ':' | '-' | '–' | '/')))
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect();
    let name = clean(words.join(" ").trim_end_matches('.'));
    (!name.is_empty() && name.chars().any(char::is_alphabetic)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_latin1_and_trims() {
        assert_eq!(decode_text(b"  J\xc3\xb6rg   M\0junk"), "Jörg M");
        assert_eq!(decode_text(b"J\xf6rg"), "Jörg");
        assert_eq!(decode_text(b"\0"), "");
        assert_eq!(decode_text(&vec![b'a'; 10_000]).len(), MAX_TEXT_CHARS);
        assert_eq!(decode_ucs2le(&[b'A', 0, b'b', 0, 0, 0, b'x', 0]), "Ab");
    }

    #[test]
    fn copyright_names() {
        let n = |s| name_from_copyright(s);
        assert_eq!(
            n("© 2024 Jane Smith. All rights reserved.").as_deref(),
            Some("Jane Smith")
        );
        assert_eq!(
            n("Copyright (c) 2019-2024, Center for Whale Research").as_deref(),
            Some("Center for Whale Research")
        );
        assert_eq!(n("(C) J. Doe").as_deref(), Some("J. Doe"));
        assert_eq!(n("© 2024"), None);
        assert_eq!(n(""), None);
    }
}
