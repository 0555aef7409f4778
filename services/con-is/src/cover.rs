//! The result's cover sheet: the journal number, the service, the applicant and the
//! centre, in Russian and in Kazakh, one page each, with the journal number as a Code
//! 128 barcode drawn in bars under the text ([`egov_documents::code128`]); and the
//! scan of it read back: a PNG ([`gray_png`]) turned into gray rows for the decoder.

use std::io::Read as _;

use egov_documents::{Bars, Part};
use egov_regulation::Regulation;
use serde_json::Value;

use crate::centres::Centre;
use crate::desk::Application;

/// A module's width on the cover, points (1.8 pt: 3.75 pixels at 150 dpi).
pub const MODULE: f32 = 1.8;
/// The bars' height, points.
pub const BAR_HEIGHT: f32 = 60.0;

fn applicant_name(app: &Application) -> String {
    ["surname", "name", "patronymic"]
        .iter()
        .filter_map(|k| app.applicant.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cover's parts, Russian then Kazakh.
pub fn parts(app: &Application, reg: &Regulation, centre: &Centre) -> Vec<Part> {
    let result = app.result.as_ref();
    // the result's title as ИС МИО sent it, in Kazakh from the regulation's results
    let sent = result.and_then(|r| r["title"].as_str()).unwrap_or_default();
    let known = reg.results.iter().find(|r| r.title.ru == sent);
    let title = |lang: &str| match (known, lang) {
        (Some(r), "kk") => r.title.kk.clone(),
        _ => sent.to_string(),
    };
    let provider = reg.provider(&app.provider_id);
    ["ru", "kk"]
        .into_iter()
        .map(|lang| {
            let kk = lang == "kk";
            let mut body = vec![
                if kk {
                    format!("Мемлекеттік көрсетілетін қызмет: «{}»", reg.service_name.kk)
                } else {
                    format!("Государственная услуга: «{}»", reg.service_name.ru)
                },
                if kk {
                    format!(
                        "Көрсетілетін қызметті алушы: {} (ЖСН {})",
                        applicant_name(app),
                        app.applicant_iin
                    )
                } else {
                    format!(
                        "Услугополучатель: {} (ИИН {})",
                        applicant_name(app),
                        app.applicant_iin
                    )
                },
            ];
            if let Some(p) = provider {
                body.push(if kk {
                    format!("Көрсетілетін қызметті беруші: {}", p.name.kk)
                } else {
                    format!("Услугодатель: {}", p.name.ru)
                });
            }
            let t = title(lang);
            if !t.is_empty() {
                body.push(if kk {
                    format!("Нәтиже: {t}")
                } else {
                    format!("Результат: {t}")
                });
            }
            if let Some(m) = &app.mio_number {
                body.push(if kk {
                    format!("Көрсетілетін қызметті берушідегі нөмір: {m}")
                } else {
                    format!("Номер у услугодателя: {m}")
                });
            }
            Part {
                header: if kk {
                    centre.name.kk.clone()
                } else {
                    centre.name.ru.clone()
                },
                address: centre
                    .address
                    .as_ref()
                    .map(|a| if kk { a.kk.clone() } else { a.ru.clone() })
                    .unwrap_or_default(),
                reference: if kk {
                    format!("№ {} өтініш", app.number)
                } else {
                    format!("Заявление № {}", app.number)
                },
                title: if kk {
                    "Мемлекеттік қызмет көрсету нәтижесінің мұқабасы".into()
                } else {
                    "Обложка результата оказания государственной услуги".into()
                },
                body: body.join("\n"),
                footer: if kk {
                    format!(
                        "Штрих-код: {} (Code 128). Нәтиже көрсетілетін қызметті алушыға немесе оның өкіліне жеке басын куәландыратын құжат бойынша беріледі.",
                        app.number
                    )
                } else {
                    format!(
                        "Штрих-код: {} (Code 128). Результат выдается услугополучателю или его представителю по документу, удостоверяющему личность.",
                        app.number
                    )
                },
            }
        })
        .collect()
}

/// The cover as PDF: its parts, and on each page the barcode of the journal number
/// below the last line.
pub fn render(app: &Application, reg: &Regulation, centre: &Centre) -> Result<Vec<u8>, String> {
    let parts = parts(app, reg, centre);
    let modules = egov_documents::code128::encode(&app.number).map_err(|e| e.to_string())?;
    let lines = egov_documents::layout(&parts);
    let pages = lines.iter().map(|l| l.page + 1).max().unwrap_or(0);
    let bars: Vec<Bars> = (0..pages)
        .map(|page| {
            let bottom = lines
                .iter()
                .filter(|l| l.page == page)
                .map(|l| l.y)
                .fold(egov_documents::MARGIN, f32::max);
            Bars {
                page,
                x: egov_documents::MARGIN + 10.0 * MODULE,
                y: bottom + 30.0,
                module: MODULE,
                height: BAR_HEIGHT,
                modules: modules.clone(),
            }
        })
        .collect();
    egov_documents::render_with(
        &parts,
        &bars,
        &format!("Обложка результата № {}", app.number),
        "АРМ ИС ЦОН",
    )
}

/// One line of a register: an application's journal number, service, applicant and
/// provider.
#[derive(Debug, Clone)]
pub struct RegisterLine {
    /// The journal number.
    pub number: String,
    /// The service (Russian, Kazakh).
    pub service: (String, String),
    /// The applicant's name and IIN.
    pub applicant: String,
    /// The provider (Russian, Kazakh).
    pub provider: (String, String),
}

/// The register (реестр) as PDF, Russian then Kazakh: its number and date, the
/// applications it lists, who formed it and the courier who took it, with the lines
/// to sign at the hand-over.
pub fn register_pdf(
    register: &crate::paper::Register,
    centre: &Centre,
    lines: &[RegisterLine],
    formed_by: &str,
    courier: Option<&str>,
) -> Result<Vec<u8>, String> {
    let date = |t: time::OffsetDateTime| {
        let d = egov_calendar::local_date(t);
        format!("{:02}.{:02}.{}", d.day(), d.month() as u8, d.year())
    };
    let parts: Vec<Part> = ["ru", "kk"]
        .into_iter()
        .map(|lang| {
            let kk = lang == "kk";
            let body: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if kk {
                        format!(
                            "{}. № {} — «{}»; {}; {}",
                            i + 1,
                            l.number,
                            l.service.1,
                            l.applicant,
                            l.provider.1
                        )
                    } else {
                        format!(
                            "{}. № {} — «{}»; {}; {}",
                            i + 1,
                            l.number,
                            l.service.0,
                            l.applicant,
                            l.provider.0
                        )
                    }
                })
                .collect();
            let courier = courier.unwrap_or("____________________");
            Part {
                header: if kk {
                    centre.name.kk.clone()
                } else {
                    centre.name.ru.clone()
                },
                address: centre
                    .address
                    .as_ref()
                    .map(|a| if kk { a.kk.clone() } else { a.ru.clone() })
                    .unwrap_or_default(),
                reference: if kk {
                    format!("№ {} тізілім, {}", register.number, date(register.formed_at))
                } else {
                    format!("Реестр № {} от {}", register.number, date(register.formed_at))
                },
                title: if kk {
                    "Көрсетілетін қызметті берушіге берілетін құжаттардың тізілімі".into()
                } else {
                    "Реестр документов, передаваемых услугодателю".into()
                },
                body: body.join("\n"),
                footer: if kk {
                    format!(
                        "Құжаттар саны: {}. Тапсырды (жинақтаушы сектор): {formed_by}. Қабылдады (курьер): {courier}",
                        lines.len()
                    )
                } else {
                    format!(
                        "Всего документов: {}. Сдал (накопительный сектор): {formed_by}. Принял (курьер): {courier}",
                        lines.len()
                    )
                },
            }
        })
        .collect();
    egov_documents::render(
        &parts,
        &format!("Реестр № {}", register.number),
        "АРМ ИС ЦОН",
    )
}

/// A PNG (8 bits a sample: gray, gray with alpha, RGB, RGBA; not interlaced) as gray
/// pixels, row after row, and its width.
pub fn gray_png(png: &[u8]) -> Result<(Vec<u8>, usize), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let rest = png.strip_prefix(SIGNATURE).ok_or("not a PNG")?;
    let mut at = 0;
    let mut header = None;
    let mut data = Vec::new();
    while at + 8 <= rest.len() {
        let len = u32::from_be_bytes(rest[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind = &rest[at + 4..at + 8];
        let body = rest
            .get(at + 8..at + 8 + len)
            .ok_or("a chunk runs past the end")?;
        match kind {
            b"IHDR" if body.len() == 13 => header = Some(body.to_vec()),
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let h = header.ok_or("no IHDR")?;
    let width = u32::from_be_bytes(h[0..4].try_into().expect("4 bytes")) as usize;
    let height = u32::from_be_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
    let (depth, color, interlace) = (h[8], h[9], h[12]);
    let channels = match color {
        0 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        _ => return Err(format!("colour type {color} is not read")),
    };
    if depth != 8 || interlace != 0 {
        return Err(format!(
            "bit depth {depth}, interlace {interlace}: only 8-bit, not interlaced"
        ));
    }
    if width == 0 || height == 0 || width > 20_000 || height > 20_000 {
        return Err(format!("{width}×{height} pixels"));
    }
    let stride = width * channels;
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .take(((stride + 1) * height) as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("image data: {e}"))?;
    if raw.len() != (stride + 1) * height {
        return Err("the image data is not as long as the header says".into());
    }
    let mut prev = vec![0u8; stride];
    let mut gray = Vec::with_capacity(width * height);
    for row in raw.chunks_exact(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            let x = line[i];
            cur[i] = match filter {
                0 => x,
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add(((a as u16 + b as u16) / 2) as u8),
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    let pred = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    x.wrapping_add(pred)
                }
                f => return Err(format!("filter {f}")),
            };
        }
        for px in cur.chunks_exact(channels) {
            gray.push(match channels {
                1 | 2 => px[0],
                _ => ((px[0] as u32 * 299 + px[1] as u32 * 587 + px[2] as u32 * 114) / 1000) as u8,
            });
        }
        prev = cur;
    }
    Ok((gray, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of gray rows, each filtered with `filter`, written by hand.
    fn png(rows: &[Vec<u8>], filter: u8) -> Vec<u8> {
        use std::io::Write as _;
        let width = rows[0].len();
        let mut raw = Vec::new();
        let mut prev = vec![0u8; width];
        for r in rows {
            raw.push(filter);
            for (i, &x) in r.iter().enumerate() {
                let a = if i > 0 { r[i - 1] } else { 0 };
                raw.push(match filter {
                    1 => x.wrapping_sub(a),
                    2 => x.wrapping_sub(prev[i]),
                    3 => x.wrapping_sub(((a as u16 + prev[i] as u16) / 2) as u8),
                    _ => x,
                });
            }
            prev = r.clone();
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&raw).unwrap();
        let data = z.finish().unwrap();
        let chunk = |kind: &[u8], body: &[u8]| {
            let mut c = (body.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(body);
            c.extend_from_slice(&[0, 0, 0, 0]); // the CRC is not checked
            c
        };
        let mut ihdr = (width as u32).to_be_bytes().to_vec();
        ihdr.extend_from_slice(&(rows.len() as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        out.extend(chunk(b"IDAT", &data));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    #[test]
    fn a_png_reads_back_under_every_filter() {
        let rows: Vec<Vec<u8>> = (0..5u8)
            .map(|y| (0..7u8).map(|x| x * 30 + y * 7).collect())
            .collect();
        for filter in 0..4 {
            let (gray, w) = gray_png(&png(&rows, filter)).unwrap();
            assert_eq!(w, 7);
            assert_eq!(gray, rows.concat(), "filter {filter}");
        }
        assert!(gray_png(b"GIF89a").is_err());
        let mut cut = png(&rows, 0);
        cut.truncate(cut.len() - 20);
        assert!(gray_png(&cut).is_err());
    }
}
