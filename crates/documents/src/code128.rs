//! Code 128 (ISO/IEC 15417): the barcode on a result's cover, encoded into modules for
//! the PDF and decoded back from one row of a scanned raster.
//!
//! A symbol is a start character (A, B or C), the data characters, a check character
//! (the start's value plus each character's value times its position, modulo 103) and
//! the stop; each character is three bars and three spaces eleven modules wide (the
//! stop: four bars, three spaces, thirteen modules). [`encode`] writes text in code set
//! B (printable ASCII), which a journal number needs; [`decode_row`] reads any of the
//! three code sets with their switches and shifts (FNC characters are skipped), from
//! the widths of the dark and light runs of a row of pixels, each character's runs
//! scaled to its own eleven modules, so a row may be printed at any size and scanned
//! at any resolution; a row whose check character does not match is
//! [`Error::Checksum`], never text.

/// The widths of each character's bars and spaces, in modules, by value (0–105), then
/// the stop (106) with its final bar.
const PATTERNS: [&[u8]; 107] = [
    b"212222", b"222122", b"222221", b"121223", b"121322", b"131222", b"122213", b"122312",
    b"132212", b"221213", b"221312", b"231212", b"112232", b"122132", b"122231", b"113222",
    b"123122", b"123221", b"223211", b"221132", b"221231", b"213212", b"223112", b"312131",
    b"311222", b"321122", b"321221", b"312212", b"322112", b"322211", b"212123", b"212321",
    b"232121", b"111323", b"131123", b"131321", b"112313", b"132113", b"132311", b"211313",
    b"231113", b"231311", b"112133", b"112331", b"132131", b"113123", b"113321", b"133121",
    b"313121", b"211331", b"231131", b"213113", b"213311", b"213131", b"311123", b"311321",
    b"331121", b"312113", b"312311", b"332111", b"314111", b"221411", b"431111", b"111224",
    b"111422", b"121124", b"121421", b"141122", b"141221", b"112214", b"112412", b"122114",
    b"122411", b"142112", b"142211", b"241211", b"221114", b"413111", b"241112", b"134111",
    b"111242", b"121142", b"121241", b"114212", b"124112", b"124211", b"411212", b"421112",
    b"421211", b"212141", b"214121", b"412121", b"111143", b"111341", b"131141", b"114113",
    b"114311", b"411113", b"411311", b"113141", b"114131", b"311141", b"411131", b"211412",
    b"211214", b"211232", b"2331112",
];

/// Start A, B, C; the stop.
const START_A: usize = 103;
const START_B: usize = 104;
const START_C: usize = 105;
const STOP: usize = 106;

/// Why text cannot be encoded, or a row decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A character outside code set B (printable ASCII).
    #[error("«{0}» is not in Code 128's code set B (printable ASCII)")]
    Unencodable(char),
    /// No start character followed by readable characters and a stop.
    #[error("no Code 128 symbol in the row")]
    NotFound,
    /// A symbol was read whose check character does not match its data.
    #[error("the Code 128 check character does not match: the barcode is damaged")]
    Checksum,
}

/// The modules of `text` in code set B, from the first bar to the last (`true`: a bar),
/// without quiet zones.
pub fn encode(text: &str) -> Result<Vec<bool>, Error> {
    let mut values = vec![START_B];
    for c in text.chars() {
        if !(' '..='~').contains(&c) {
            return Err(Error::Unencodable(c));
        }
        values.push(c as usize - 32);
    }
    values.push(check(&values));
    values.push(STOP);
    let mut modules = Vec::with_capacity(values.len() * 11 + 2);
    for v in values {
        for (i, w) in PATTERNS[v].iter().enumerate() {
            let bar = i % 2 == 0;
            modules.extend(std::iter::repeat_n(bar, (w - b'0') as usize));
        }
    }
    Ok(modules)
}

/// The check character of a start and data values.
fn check(values: &[usize]) -> usize {
    let sum: usize = values.iter().enumerate().map(|(i, v)| v * i.max(1)).sum();
    sum % 103
}

/// The runs of a row of gray pixels (0 black … 255 white): alternating widths, the first
/// of a dark run. A row without contrast has none.
pub fn runs(row: &[u8]) -> Vec<usize> {
    let (min, max) = row
        .iter()
        .fold((255u8, 0u8), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    if max.saturating_sub(min) < 64 {
        return Vec::new();
    }
    let threshold = (min as u16 + max as u16) / 2;
    let dark = |p: u8| (p as u16) < threshold;
    let Some(first) = row.iter().position(|&p| dark(p)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = true;
    let mut width = 0;
    for &p in &row[first..] {
        if dark(p) == current {
            width += 1;
        } else {
            out.push(width);
            current = !current;
            width = 1;
        }
    }
    if current {
        out.push(width);
    }
    out
}

/// The value whose pattern the six runs match (each scaled to the character's eleven
/// modules, every element within half a module), or `None`.
fn symbol(runs: &[usize]) -> Option<usize> {
    let total: usize = runs.iter().sum();
    if total == 0 {
        return None;
    }
    let module = total as f32 / 11.0;
    PATTERNS[..STOP]
        .iter()
        .position(|p| {
            p.iter()
                .zip(runs)
                .all(|(w, r)| (*r as f32 / module - (w - b'0') as f32).abs() < 0.5)
        })
        .or_else(|| {
            // the stop's first six elements (2 3 3 1 1 1) are eleven modules too
            b"233111"
                .iter()
                .zip(runs)
                .all(|(w, r)| (*r as f32 / module - (w - b'0') as f32).abs() < 0.5)
                .then_some(STOP)
        })
}

/// Decodes the first Code 128 symbol of a row of gray pixels. A start, characters and a
/// stop whose check character does not match is [`Error::Checksum`]; a row with no
/// complete symbol, [`Error::NotFound`].
pub fn decode_row(row: &[u8]) -> Result<String, Error> {
    let runs = runs(row);
    let mut damaged = false;
    for at in (0..runs.len()).step_by(2) {
        match read(&runs[at..]) {
            Ok(text) => return Ok(text),
            Err(Error::Checksum) => damaged = true,
            Err(_) => {}
        }
    }
    Err(if damaged {
        Error::Checksum
    } else {
        Error::NotFound
    })
}

/// Decodes the first row of a gray raster (`width` pixels a row) that holds a whole
/// symbol, trying rows spread over the image; a symbol read only with a check character
/// that does not match is [`Error::Checksum`].
pub fn decode_image(pixels: &[u8], width: usize) -> Result<String, Error> {
    if width == 0 {
        return Err(Error::NotFound);
    }
    let mut damaged = false;
    for row in pixels.chunks_exact(width).step_by(2) {
        match decode_row(row) {
            Ok(text) => return Ok(text),
            Err(Error::Checksum) => damaged = true,
            Err(_) => {}
        }
    }
    Err(if damaged {
        Error::Checksum
    } else {
        Error::NotFound
    })
}

/// Reads a symbol whose start character is the first six runs.
fn read(runs: &[usize]) -> Result<String, Error> {
    let start = runs
        .get(..6)
        .and_then(symbol)
        .filter(|v| (START_A..=START_C).contains(v))
        .ok_or(Error::NotFound)?;
    let mut values = vec![start];
    let mut at = 6;
    loop {
        let v = runs
            .get(at..at + 6)
            .and_then(symbol)
            .ok_or(Error::NotFound)?;
        if v == STOP {
            // the final bar of the stop, two modules
            let module = runs[at..at + 6].iter().sum::<usize>() as f32 / 11.0;
            let last = *runs.get(at + 6).ok_or(Error::NotFound)? as f32 / module;
            if (last - 2.0).abs() >= 0.75 {
                return Err(Error::NotFound);
            }
            break;
        }
        if v >= START_A {
            return Err(Error::NotFound);
        }
        values.push(v);
        at += 6;
    }
    let Some((&checked, data)) = values.split_last() else {
        return Err(Error::NotFound);
    };
    if data.len() < 2 {
        return Err(Error::NotFound);
    }
    if check(data) != checked {
        return Err(Error::Checksum);
    }
    Ok(text(data))
}

/// The text of a start and data values, following the code-set switches and shifts.
fn text(values: &[usize]) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Set {
        A,
        B,
        C,
    }
    let mut set = match values[0] {
        START_A => Set::A,
        START_B => Set::B,
        _ => Set::C,
    };
    let mut shift = false;
    let mut out = String::new();
    for &v in &values[1..] {
        let now = if shift {
            shift = false;
            match set {
                Set::A => Set::B,
                _ => Set::A,
            }
        } else {
            set
        };
        match (now, v) {
            (Set::C, 0..=99) => out.push_str(&format!("{v:02}")),
            (Set::C, 100) | (Set::A, 100) => set = Set::B,
            (Set::C, 101) | (Set::B, 101) => set = Set::A,
            (Set::A, 99) | (Set::B, 99) => set = Set::C,
            (Set::A | Set::B, 98) => shift = true,
            (Set::A, 0..=63) => out.push((v as u8 + 32) as char),
            (Set::A, 64..=95) => out.push((v as u8 - 64) as char),
            (Set::B, 0..=95) => out.push((v as u8 + 32) as char),
            // FNC1–FNC4
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of pixels for `modules` at `px` pixels a module, with quiet zones.
    fn raster(modules: &[bool], px: usize) -> Vec<u8> {
        let mut row = vec![255u8; 10 * px];
        for &m in modules {
            row.extend(std::iter::repeat_n(if m { 0 } else { 255 }, px));
        }
        row.extend(std::iter::repeat_n(255, 10 * px));
        row
    }

    #[test]
    fn every_pattern_is_eleven_modules_and_unique() {
        for (v, p) in PATTERNS.iter().enumerate() {
            let sum: u32 = p.iter().map(|w| (w - b'0') as u32).sum();
            assert_eq!(sum, if v == STOP { 13 } else { 11 }, "value {v}");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(PATTERNS.iter().all(|p| seen.insert(*p)));
        assert!(!PATTERNS.contains(&&b"233111"[..]));
    }

    #[test]
    fn the_check_character_of_a_known_symbol() {
        // "PJJ123C" in code set B: 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 879,
        // 879 mod 103 = 55
        let values: Vec<usize> = std::iter::once(START_B)
            .chain("PJJ123C".chars().map(|c| c as usize - 32))
            .collect();
        assert_eq!(check(&values), 55);
        let m = encode("PJJ123C").unwrap();
        assert_eq!(m.len(), (1 + 7 + 1) * 11 + 13);
        assert!(m[0] && *m.last().unwrap());
    }

    #[test]
    fn a_journal_number_round_trips_at_any_scale() {
        for text in ["ALM-ALM-2026-000001", "AKZ-M-2026-000042", "a b~"] {
            let m = encode(text).unwrap();
            for px in [1, 2, 3, 5] {
                assert_eq!(decode_row(&raster(&m, px)).as_deref(), Ok(text), "{px}");
            }
        }
        assert_eq!(encode("ЦОН"), Err(Error::Unencodable('Ц')));
    }

    #[test]
    fn uneven_scaling_still_reads() {
        // bars printed a little wider than spaces (ink spread), 3 pixels a module
        let m = encode("ATR-ZHY-2026-000007").unwrap();
        let mut row = vec![255u8; 40];
        for &b in &m {
            row.extend(std::iter::repeat_n(if b { 0 } else { 255 }, 3));
        }
        row.extend([255u8; 40]);
        // widen every bar by one pixel into the following space
        let mut spread = row.clone();
        for i in 1..row.len() {
            if row[i - 1] == 0 && row[i] == 255 && (i + 1 >= row.len() || row[i + 1] == 255) {
                spread[i] = 0;
            }
        }
        assert_eq!(decode_row(&spread).as_deref(), Ok("ATR-ZHY-2026-000007"));
    }

    #[test]
    fn a_damaged_symbol_is_a_checksum_error_not_text() {
        let m = encode("ALM-ALM-2026-000001").unwrap();
        // the first data character «A» (33: 111323) becomes «C» (35: 131321): same width
        let mut bad = m.clone();
        let start = 11;
        let c: Vec<bool> = b"131321"
            .iter()
            .enumerate()
            .flat_map(|(i, w)| std::iter::repeat_n(i % 2 == 0, (w - b'0') as usize))
            .collect();
        bad[start..start + 11].copy_from_slice(&c);
        assert_eq!(decode_row(&raster(&bad, 2)), Err(Error::Checksum));
        assert_eq!(decode_row(&[255; 300]), Err(Error::NotFound));
        assert_eq!(
            decode_row(&raster(&m[..m.len() - 20], 2)),
            Err(Error::NotFound)
        );
    }

    #[test]
    fn code_set_c_and_switches_decode() {
        // Start C, 12, 34, Code B, «X», check, stop
        let mut values = vec![START_C, 12, 34, 100, b'X' as usize - 32];
        values.push(check(&values));
        values.push(STOP);
        let modules: Vec<bool> = values
            .iter()
            .flat_map(|&v| {
                PATTERNS[v]
                    .iter()
                    .enumerate()
                    .flat_map(|(i, w)| std::iter::repeat_n(i % 2 == 0, (w - b'0') as usize))
            })
            .collect();
        assert_eq!(decode_row(&raster(&modules, 2)).as_deref(), Ok("1234X"));
    }

    #[test]
    fn an_image_is_read_on_some_row() {
        let m = encode("ALM-ALM-2026-000003").unwrap();
        let row = raster(&m, 2);
        let w = row.len();
        let mut img = vec![255u8; w * 10];
        for r in 4..8 {
            img[r * w..(r + 1) * w].copy_from_slice(&row);
        }
        assert_eq!(decode_image(&img, w).as_deref(), Ok("ALM-ALM-2026-000003"));
        assert_eq!(decode_image(&[255; 100], 10), Err(Error::NotFound));
    }
}
