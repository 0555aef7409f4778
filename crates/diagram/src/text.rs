//! Text helpers: XML escaping and word wrapping by an estimate of the width.

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Wraps `text` into at most `max_lines` lines of about `chars` characters, breaking at
/// spaces (a longer word is cut); what does not fit ends in «…».
pub fn wrap(text: &str, chars: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut truncated = false;
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        loop {
            let len = cur.chars().count();
            let wlen = word.chars().count();
            if len == 0 && wlen <= chars {
                cur = word;
                break;
            }
            if len > 0 && len + 1 + wlen <= chars {
                cur.push(' ');
                cur.push_str(&word);
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // a word longer than a line
            let head: String = word.chars().take(chars).collect();
            word = word.chars().skip(chars).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
        if lines.len() >= max_lines {
            truncated = true;
            break;
        }
    }
    if !cur.is_empty() && lines.len() < max_lines {
        lines.push(cur);
    } else if !cur.is_empty() {
        truncated = true;
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        truncated = true;
    }
    if truncated && let Some(last) = lines.last_mut() {
        let mut l: String = last.chars().take(chars.saturating_sub(1)).collect();
        l.push('…');
        *last = l;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_marks_what_is_cut() {
        assert_eq!(
            wrap("прием заявления и документов", 12, 3),
            vec!["прием", "заявления и", "документов"]
        );
        let cut = wrap("один два три четыре пять шесть", 9, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…'), "{cut:?}");
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
        assert_eq!(
            wrap("ЖСН-ның-тексерілуі", 6, 5),
            vec!["ЖСН-ны", "ң-текс", "ерілуі"]
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
