//! Result documents as PDF: the regulation's template filled in, in Russian and in
//! Kazakh (DejaVu Sans embedded, so every Cyrillic and Kazakh letter renders and
//! extracts), then signed by the authorised person (CMS SignedData, detached, over the
//! exact PDF bytes).

use std::collections::HashMap;
use std::sync::LazyLock;

use krilla::Document;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

/// What fills a template's placeholders, per language.
pub type Values = HashMap<&'static str, (String, String)>;

static REGULAR: LazyLock<Font> =
    LazyLock::new(|| Font::new(dejavu::sans::regular().into(), 0).expect("DejaVu Sans loads"));
static BOLD: LazyLock<Font> =
    LazyLock::new(|| Font::new(dejavu::sans::bold().into(), 0).expect("DejaVu Sans Bold loads"));

/// Fills `{placeholder}`s of `template` from `values` in `lang` (`ru` or `kk`); an
/// unknown placeholder stays as written.
pub fn fill(template: &str, values: &Values, lang: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                let key = &after[..close];
                match values.get(key) {
                    Some((ru, kk)) => out.push_str(if lang == "kk" { kk } else { ru }),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits `text` into lines of at most about `width` points at `size` (DejaVu Sans
/// advances average 0.6 em for Cyrillic; the estimate errs on the short side).
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let per_line = ((width / (size * 0.6)) as usize).max(10);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let len = line.chars().count();
            if len > 0 && len + 1 + word.chars().count() > per_line {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// One language's part of the document.
#[derive(Debug, Clone)]
pub struct Part {
    /// The issuing body.
    pub header: String,
    /// Its address.
    pub address: String,
    /// "№ ... от ..." line.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Signature line.
    pub footer: String,
}

const A4_W: f32 = 595.0;
const A4_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// Renders the parts (Russian, then Kazakh, one page each) as a PDF.
pub fn render(parts: &[Part], title: &str) -> Result<Vec<u8>, String> {
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .creator("ИС МИО (egov-mirror)".into())
            .language("ru".into()),
    );
    for part in parts {
        let mut page = doc.start_page_with(PageSettings::from_wh(A4_W, A4_H).ok_or("page size")?);
        let mut surface = page.surface();
        let mut y = MARGIN + 12.0;
        let width = A4_W - 2.0 * MARGIN;
        let line = |surface: &mut krilla::surface::Surface<'_>,
                    text: &str,
                    bold: bool,
                    size: f32,
                    y: &mut f32| {
            let font = if bold { BOLD.clone() } else { REGULAR.clone() };
            for l in wrap(text, size, width) {
                if !l.is_empty() {
                    surface.draw_text(
                        Point::from_xy(MARGIN, *y),
                        font.clone(),
                        size,
                        &l,
                        false,
                        TextDirection::Auto,
                    );
                }
                *y += size * 1.45;
            }
        };
        line(&mut surface, &part.header, true, 12.0, &mut y);
        line(&mut surface, &part.address, false, 9.5, &mut y);
        y += 10.0;
        line(&mut surface, &part.reference, false, 10.0, &mut y);
        y += 18.0;
        line(&mut surface, &part.title, true, 14.0, &mut y);
        y += 8.0;
        line(&mut surface, &part.body, false, 11.0, &mut y);
        y += 24.0;
        line(&mut surface, &part.footer, false, 9.5, &mut y);
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("PDF: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_in_both_languages() {
        let mut v = Values::new();
        v.insert("queue_number", ("17".into(), "17".into()));
        v.insert("category", ("инвалиды".into(), "мүгедектер".into()));
        assert_eq!(
            fill("№ {queue_number}, «{category}»", &v, "ru"),
            "№ 17, «инвалиды»"
        );
        assert_eq!(
            fill("№ {queue_number}, «{category}»", &v, "kk"),
            "№ 17, «мүгедектер»"
        );
        assert_eq!(fill("{unknown} {", &v, "ru"), "{unknown} {");
    }

    #[test]
    fn long_text_wraps_and_renders() {
        let lines = wrap(&"слово ".repeat(100), 11.0, 480.0);
        assert!(lines.len() > 5 && lines.iter().all(|l| l.chars().count() <= 75));
        let part = Part {
            header: "Отдел".into(),
            address: "ул. Абая, 1".into(),
            reference: "№ 1".into(),
            title: "Уведомление".into(),
            body: "Құрметті азамат! Сіз кезекке қойылдыңыз: ә ғ қ ң ө ұ ү һ і".into(),
            footer: "Подписано".into(),
        };
        let pdf = render(&[part.clone(), part], "test").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.windows(7).any(|w| w == b"DejaVuS"),
            "the font is embedded"
        );
    }
}
