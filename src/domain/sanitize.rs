//! Text made safe for where it is shown: a terminal (control and bidirectional formatting characters
//! escaped) or a spreadsheet (a leading formula character neutralised, and restored on reading back).

/// Unicode formatting characters that reorder or hide text (bidirectional overrides and isolates,
/// zero-width joiners are kept: emoji and several scripts need them).
pub(super) fn is_format_control(c: char) -> bool {
    matches!(u32::from(c), 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0x061C | 0xFEFF)
}

/// `s` made safe to print on a terminal: control and bidirectional formatting characters are shown
/// escaped (`\u{1b}`) instead of being acted on.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_format_control(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() || is_format_control(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A text field made safe for a spreadsheet: one that starts like a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading `'`, as OWASP advises, so opening an export never runs it.
pub fn spreadsheet_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The inverse of [`spreadsheet_safe`], for reading an export back in.
pub fn from_spreadsheet(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_made_safe_for_terminals_and_spreadsheets() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            spreadsheet_safe("=cmd|' /C calc'!A0"),
            "'=cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("+SUM(1)"), "'+SUM(1)");
        assert_eq!(spreadsheet_safe("Ferris"), "Ferris");
        assert_eq!(from_spreadsheet("'=cmd"), "=cmd");
        assert_eq!(from_spreadsheet("'quoted'"), "'quoted'");
    }
}
