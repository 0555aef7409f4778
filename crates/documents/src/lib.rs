//! Documents as PDF, in Russian and in Kazakh: ИС МИО's result documents and ИС ЦОН's
//! receipts (расписки). A document is a list of [`Part`]s (one per language, each from
//! one page): the issuing body, its address, a reference line, the title, the body and
//! a signature line. DejaVu Sans is embedded, so every Cyrillic and Kazakh letter
//! renders and extracts; every line is wrapped to the text width with the font's real
//! advance widths (read from its own `hmtx` and `cmap`) and drawn with exactly those
//! glyphs and advances, so [`layout`] says where each line lands.

pub mod code128;

use std::collections::HashMap;
use std::sync::LazyLock;

use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, GlyphId, KrillaGlyph};

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

/// One language's part of a document.
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

/// Page width (A4, points).
pub const A4_W: f32 = 595.0;
/// Page height (A4, points).
pub const A4_H: f32 = 842.0;
/// Left, right, top and bottom margin.
pub const MARGIN: f32 = 56.0;
/// The width every line fits in.
pub const TEXT_WIDTH: f32 = A4_W - 2.0 * MARGIN;

/// A font's real advance widths, read from its own tables (`head`, `hhea`, `hmtx`,
/// `cmap`), the same glyphs and advances the PDF is drawn with.
struct Metrics {
    units_per_em: f32,
    advances: Vec<u16>,
    glyphs: HashMap<u32, u16>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

impl Metrics {
    fn read(font: &[u8]) -> Option<Metrics> {
        let tables = be16(font, 4)? as usize;
        let table = |tag: &[u8; 4]| -> Option<&[u8]> {
            (0..tables).find_map(|i| {
                let rec = 12 + 16 * i;
                (font.get(rec..rec + 4)? == tag).then_some(())?;
                let (off, len) = (
                    be32(font, rec + 8)? as usize,
                    be32(font, rec + 12)? as usize,
                );
                font.get(off..off + len)
            })
        };
        let units_per_em = be16(table(b"head")?, 18)? as f32;
        let metrics = be16(table(b"hhea")?, 34)? as usize;
        let hmtx = table(b"hmtx")?;
        let advances = (0..metrics)
            .map(|i| be16(hmtx, 4 * i))
            .collect::<Option<Vec<u16>>>()?;
        let cmap = table(b"cmap")?;
        let mut glyphs = HashMap::new();
        // the Unicode subtables: full repertoire (format 12) first, else the BMP (format 4)
        let subtables: Vec<&[u8]> = (0..be16(cmap, 2)? as usize)
            .filter_map(|i| {
                let (platform, encoding) = (be16(cmap, 4 + 8 * i)?, be16(cmap, 6 + 8 * i)?);
                let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
                unicode.then_some(())?;
                cmap.get(be32(cmap, 8 + 8 * i)? as usize..)
            })
            .collect();
        if let Some(t) = subtables.iter().find(|t| be16(t, 0) == Some(12)) {
            for g in 0..be32(t, 12)? as usize {
                let at = 16 + 12 * g;
                let (first, last, glyph) = (be32(t, at)?, be32(t, at + 4)?, be32(t, at + 8)?);
                for c in first..=last {
                    glyphs.insert(c, (glyph + c - first) as u16);
                }
            }
        } else {
            let t = subtables.iter().find(|t| be16(t, 0) == Some(4))?;
            let segments = be16(t, 6)? as usize / 2;
            let (ends, starts, deltas, ranges) =
                (14, 16 + 2 * segments, 16 + 4 * segments, 16 + 6 * segments);
            for s in 0..segments {
                let (end, start) = (be16(t, ends + 2 * s)?, be16(t, starts + 2 * s)?);
                let (delta, range) = (be16(t, deltas + 2 * s)?, be16(t, ranges + 2 * s)?);
                for c in start..=end {
                    if c == 0xFFFF {
                        break;
                    }
                    let glyph = if range == 0 {
                        c.wrapping_add(delta)
                    } else {
                        let at = ranges + 2 * s + range as usize + 2 * (c - start) as usize;
                        match be16(t, at)? {
                            0 => 0,
                            g => g.wrapping_add(delta),
                        }
                    };
                    if glyph != 0 {
                        glyphs.insert(c as u32, glyph);
                    }
                }
            }
        }
        Some(Metrics {
            units_per_em,
            advances,
            glyphs,
        })
    }

    /// The glyph of a character (0, the font's «missing» glyph, when it has none).
    fn glyph(&self, c: char) -> u16 {
        self.glyphs.get(&(c as u32)).copied().unwrap_or(0)
    }

    /// A glyph's advance in em.
    fn advance(&self, glyph: u16) -> f32 {
        let i = (glyph as usize).min(self.advances.len() - 1);
        self.advances[i] as f32 / self.units_per_em
    }
}

static REGULAR_METRICS: LazyLock<Metrics> =
    LazyLock::new(|| Metrics::read(dejavu::sans::regular()).expect("DejaVu Sans metrics"));
static BOLD_METRICS: LazyLock<Metrics> =
    LazyLock::new(|| Metrics::read(dejavu::sans::bold()).expect("DejaVu Sans Bold metrics"));

fn metrics(bold: bool) -> &'static Metrics {
    if bold {
        &BOLD_METRICS
    } else {
        &REGULAR_METRICS
    }
}

/// The width of `text` set in DejaVu Sans (`bold` or regular) at `size` points: the sum
/// of its glyphs' advances, as the PDF places them.
pub fn text_width(text: &str, bold: bool, size: f32) -> f32 {
    let m = metrics(bold);
    text.chars().map(|c| m.advance(m.glyph(c))).sum::<f32>() * size
}

/// Splits `text` into lines no wider than `width` at `size`: words are kept whole where
/// they fit (a no-break space joins, as in «1 234 тенге»), a word wider than a line is
/// cut; every `\n` starts a new line.
pub fn wrap(text: &str, bold: bool, size: f32, width: f32) -> Vec<String> {
    let fits = |s: &str| text_width(s, bold, size) <= width;
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para
            .split(|c: char| c.is_whitespace() && c != '\u{a0}')
            .filter(|w| !w.is_empty())
        {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // a word wider than the line is cut where it must be
            for c in word.chars() {
                line.push(c);
                if !fits(&line) && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// A line placed on a page: its page (from 0), where it starts (`x` from the left,
/// `y` the baseline from the top), its measured width, its font, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The page of the document it is on.
    pub page: usize,
    /// Left edge.
    pub x: f32,
    /// Baseline, from the top of the page.
    pub y: f32,
    /// Its width ([`text_width`]).
    pub width: f32,
    /// Font size.
    pub size: f32,
    /// Bold or regular.
    pub bold: bool,
    /// The text.
    pub text: String,
}

/// Places the parts (one page each, more where a part runs past the bottom margin):
/// the issuing body, its address, the reference, the title, the body and the signature
/// line, each wrapped to [`TEXT_WIDTH`]. Blank lines take their space and are not
/// returned.
pub fn layout(parts: &[Part]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut page = 0;
    for part in parts {
        let mut y = MARGIN + 12.0;
        let blocks: [(&str, bool, f32, f32); 6] = [
            (&part.header, true, 12.0, 0.0),
            (&part.address, false, 9.5, 0.0),
            (&part.reference, false, 10.0, 10.0),
            (&part.title, true, 14.0, 18.0),
            (&part.body, false, 11.0, 8.0),
            (&part.footer, false, 9.5, 24.0),
        ];
        for (text, bold, size, before) in blocks {
            y += before;
            for l in wrap(text, bold, size, TEXT_WIDTH) {
                if y > A4_H - MARGIN {
                    page += 1;
                    y = MARGIN + 12.0;
                }
                if !l.is_empty() {
                    out.push(Line {
                        page,
                        x: MARGIN,
                        y,
                        width: text_width(&l, bold, size),
                        size,
                        bold,
                        text: l,
                    });
                }
                y += size * 1.45;
            }
        }
        page += 1;
    }
    out
}

/// Bars drawn on a page: a barcode's modules ([`code128::encode`]), each `module`
/// points wide and `height` high, the first at `x`, their top at `y` (from the top of
/// the page).
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// The page (from 0).
    pub page: usize,
    /// Left edge of the first module.
    pub x: f32,
    /// Top of the bars, from the top of the page.
    pub y: f32,
    /// A module's width.
    pub module: f32,
    /// The bars' height.
    pub height: f32,
    /// The modules, `true` for a bar.
    pub modules: Vec<bool>,
}

/// Renders the parts (Russian, then Kazakh, one page each) as a PDF made by `creator`, every line where
/// [`layout`] places it, its glyphs advanced as [`text_width`] measures them.
pub fn render(parts: &[Part], title: &str, creator: &str) -> Result<Vec<u8>, String> {
    render_with(parts, &[], title, creator)
}

/// As [`render`], with `bars` drawn in black on their pages.
pub fn render_with(
    parts: &[Part],
    bars: &[Bars],
    title: &str,
    creator: &str,
) -> Result<Vec<u8>, String> {
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .creator(creator.to_string())
            .language("ru".into()),
    );
    let lines = layout(parts);
    let pages = lines.iter().map(|l| l.page + 1).max().unwrap_or(0);
    for p in 0..pages.max(parts.len()) {
        let mut page = doc.start_page_with(PageSettings::from_wh(A4_W, A4_H).ok_or("page size")?);
        let mut surface = page.surface();
        for l in lines.iter().filter(|l| l.page == p) {
            let (font, m) = if l.bold {
                (BOLD.clone(), metrics(true))
            } else {
                (REGULAR.clone(), metrics(false))
            };
            let glyphs: Vec<KrillaGlyph> = l
                .text
                .char_indices()
                .map(|(i, c)| {
                    let g = m.glyph(c);
                    KrillaGlyph::new(
                        GlyphId::new(g as u32),
                        m.advance(g),
                        0.0,
                        0.0,
                        0.0,
                        i..i + c.len_utf8(),
                        None,
                    )
                })
                .collect();
            surface.draw_glyphs(
                Point::from_xy(l.x, l.y),
                &glyphs,
                font,
                &l.text,
                l.size,
                false,
            );
        }
        for b in bars.iter().filter(|b| b.page == p) {
            let mut path = PathBuilder::new();
            let mut i = 0;
            while i < b.modules.len() {
                if !b.modules[i] {
                    i += 1;
                    continue;
                }
                let run = b.modules[i..].iter().take_while(|m| **m).count();
                let rect = Rect::from_xywh(
                    b.x + i as f32 * b.module,
                    b.y,
                    run as f32 * b.module,
                    b.height,
                )
                .ok_or("a bar's size")?;
                path.push_rect(rect);
                i += run;
            }
            if let Some(path) = path.finish() {
                surface.set_fill(Some(krilla::paint::Fill::default()));
                surface.draw_path(&path);
            }
        }
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

    /// The bars as an independent reader sees them: poppler rasterizes the page and
    /// ZBar (`zbarimg`) decodes it, where both are installed.
    #[test]
    fn bars_render_a_barcode_another_reader_decodes() {
        let part = Part {
            header: "ЦОН".into(),
            address: String::new(),
            reference: "№ 1".into(),
            title: "Обложка".into(),
            body: "Штрих-код".into(),
            footer: String::new(),
        };
        let text = "ALM-ALM-2026-000001";
        let bars = Bars {
            page: 0,
            x: MARGIN,
            y: 200.0,
            module: 1.8,
            height: 60.0,
            modules: code128::encode(text).unwrap(),
        };
        let pdf = render_with(&[part], &[bars], "t", "t").unwrap();
        let dir = std::env::temp_dir().join(format!("egov-bars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pdf"), &pdf).unwrap();
        let rasterized = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "150", "-singlefile"])
            .arg(dir.join("c.pdf"))
            .arg(dir.join("c"))
            .status()
            .is_ok_and(|s| s.success());
        let read = rasterized
            .then(|| {
                std::process::Command::new("zbarimg")
                    .args(["--quiet", "--raw"])
                    .arg(dir.join("c.png"))
                    .output()
                    .ok()
            })
            .flatten();
        if let Some(out) = read {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), text, "{out:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn long_text_wraps_and_renders() {
        let lines = wrap(&"слово ".repeat(100), false, 11.0, 480.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| text_width(l, false, 11.0) <= 480.0));
        assert_eq!(lines.join(" "), "слово ".repeat(100).trim_end());
        let part = Part {
            header: "Отдел".into(),
            address: "ул. Абая, 1".into(),
            reference: "№ 1".into(),
            title: "Уведомление".into(),
            body: "Құрметті азамат! Сіз кезекке қойылдыңыз: ә ғ қ ң ө ұ ү һ і".into(),
            footer: "Подписано".into(),
        };
        let pdf = render(&[part.clone(), part], "test", "test").unwrap();
        for m in [&*REGULAR_METRICS, &*BOLD_METRICS] {
            for c in "АаЯяӘәҒғҚқҢңӨөҰұҮүҺһІі№«»".chars() {
                assert_ne!(m.glyph(c), 0, "{c} has a glyph");
            }
        }
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.windows(7).any(|w| w == b"DejaVuS"),
            "the font is embedded"
        );
    }
}
