//! What free text a user gives (token names, notes, descriptions, justifications, key titles,
//! review reasons) may contain. Control characters can hide or break what is shown and logged,
//! and the bidirectional embedding, override and isolate controls can make text read
//! differently from what it is (the "Trojan Source" trick): neither is accepted. Multi-line
//! fields keep line breaks and tabs.

/// Whether a field is one line (a name, a note, a title) or a text area (a description).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// The bidirectional embedding, override and isolate controls (Unicode's Bidi_Control minus the
/// marks, which are invisible but cannot reorder text).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` may not appear in a field of this kind.
pub fn forbids(lines: Lines, c: char) -> bool {
    let allowed_control = lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    (c.is_control() && !allowed_control) || is_bidi_control(c)
}

/// The first character of `value` a field of this kind may not contain.
pub fn first_forbidden(value: &str, lines: Lines) -> Option<char> {
    value.chars().find(|&c| forbids(lines, c))
}

/// The message for a field holding `c`: the same words on every surface.
pub fn forbidden_message(field: &str, c: char) -> String {
    format!(
        "{field} cannot contain control characters or bidirectional overrides (found U+{:04X})",
        u32::from(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_and_text_is_kept() {
        for (value, lines, found) in [
            ("deploy bot", Lines::One, None),
            ("naïve — 東京 ✓", Lines::One, None),
            ("a\u{0}b", Lines::One, Some('\u{0}')),
            ("a\u{202E}b", Lines::One, Some('\u{202E}')),
            ("a\u{2066}b", Lines::Many, Some('\u{2066}')),
            ("line\nbreak", Lines::One, Some('\n')),
            ("line\nbreak\r\n\ttab", Lines::Many, None),
            ("del\u{7F}", Lines::Many, Some('\u{7F}')),
            ("c1\u{85}", Lines::Many, Some('\u{85}')),
            // Marks cannot reorder text.
            ("mark\u{200E}", Lines::One, None),
        ] {
            assert_eq!(first_forbidden(value, lines), found, "{value:?}");
        }
        assert_eq!(
            forbidden_message("name", '\u{202E}'),
            "name cannot contain control characters or bidirectional overrides (found U+202E)"
        );
    }
}
