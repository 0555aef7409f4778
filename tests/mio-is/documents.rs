//! The result documents' layout: every line of every result of every shipped regulation
//! (and the test-only one), filled with long names, fits the text width as the font's
//! real advance widths measure it; no word is lost on the way; the PDF renders.

use egov_mio_is::documents::{
    self, A4_H, Line, MARGIN, TEXT_WIDTH, Values, layout, parts, text_width,
};

fn regulations() -> Vec<egov_regulation::Regulation> {
    let mut regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
    regs.extend(
        egov_regulation::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mio-is/regulations"),
        )
        .unwrap(),
    );
    assert!(regs.len() >= 6, "{}", regs.len());
    regs
}

/// Every placeholder filled with a long value (the regulation's own names where it has
/// them, all of them at once).
fn long_values(reg: &egov_regulation::Regulation, provider: &egov_regulation::Provider) -> Values {
    let both = |s: &str| (s.to_string(), s.to_string());
    let join = |names: Vec<&egov_regulation::Text>| {
        let ru: Vec<&str> = names.iter().map(|t| t.ru.as_str()).collect();
        let kk: Vec<&str> = names.iter().map(|t| t.kk.as_str()).collect();
        (ru.join("; "), kk.join("; "))
    };
    let longest = |names: Vec<&egov_regulation::Text>| {
        let t = names
            .into_iter()
            .max_by_key(|t| t.ru.chars().count())
            .unwrap();
        (t.ru.clone(), t.kk.clone())
    };
    let mut v = Values::new();
    v.insert(
        "applicant_name",
        both("Абдрахмангалиева-Константинопольская Гульмарияш Сагынбековна-Кызы"),
    );
    v.insert("applicant_iin", both("870312300046"));
    v.insert("application_number", both("NKO-2026-000123456"));
    v.insert("application_date", both("31.12.2026"));
    v.insert(
        "provider",
        (provider.name.ru.clone(), provider.name.kk.clone()),
    );
    v.insert(
        "category",
        longest(reg.categories.iter().map(|c| &c.name).collect()),
    );
    v.insert("registration_number", both("NKO-2026-000123456"));
    v.insert("registration_date", both("31.12.2026"));
    v.insert("queue_number", both("123456"));
    v.insert(
        "grounds",
        join(reg.refusal_grounds.iter().map(|g| &g.name).collect()),
    );
    v.insert(
        "missing_documents",
        join(reg.documents.iter().map(|d| &d.name).collect()),
    );
    v.insert("decision_number", both("1234/2026"));
    v.insert("decision_date", both("31.12.2026"));
    v.insert(
        "amount",
        (
            "1\u{a0}234\u{a0}567\u{a0}890 тенге".into(),
            "1\u{a0}234\u{a0}567\u{a0}890 теңге".into(),
        ),
    );
    v.insert(
        "signer_name",
        both("Жумабекова-Ахметжанова Айгерим-Гульнара Нурсултановна"),
    );
    v.insert(
        "signer_position",
        longest(reg.roles.iter().map(|r| &r.name).collect()),
    );
    v
}

fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() || *c == '\u{a0}')
        .collect()
}

fn check(lines: &[Line], what: &str) {
    for l in lines {
        let measured = text_width(&l.text, l.bold, l.size);
        assert!(
            (measured - l.width).abs() < 0.01,
            "{what}: {l:?} measures {measured}"
        );
        assert!(
            l.x >= MARGIN && l.x + measured <= MARGIN + TEXT_WIDTH + 0.001,
            "{what}: past the right margin: {l:?}"
        );
        assert!(
            l.y <= A4_H - MARGIN + 0.001,
            "{what}: past the bottom: {l:?}"
        );
    }
}

#[test]
fn every_line_of_every_result_fits_the_text_width() {
    let mut documents = 0;
    for reg in regulations() {
        for provider in &reg.providers {
            let v = long_values(&reg, provider);
            for result in &reg.results {
                let parts = parts(provider, result, &v, "NKO-2026-000123456", "31.12.2026");
                let lines = layout(&parts);
                let what = format!("{} {} {}", reg.id, provider.id, result.id);
                check(&lines, &what);
                // nothing is lost: the lines hold every letter of the parts, in order
                let placed: String = lines.iter().map(|l| squeeze(&l.text)).collect();
                let given: String = parts
                    .iter()
                    .flat_map(|p| {
                        [
                            &p.header,
                            &p.address,
                            &p.reference,
                            &p.title,
                            &p.body,
                            &p.footer,
                        ]
                    })
                    .map(|t| squeeze(t))
                    .collect();
                assert_eq!(placed, given, "{what}");
                assert!(!v["applicant_name"].0.is_empty());
                let pdf = documents::render(&parts, &result.title.ru).unwrap();
                assert!(pdf.starts_with(b"%PDF-"), "{what}");
                documents += 1;
            }
        }
    }
    assert!(documents > 20, "{documents}");
}

#[test]
fn akzhars_long_name_wraps_in_the_heading() {
    let reg = regulations()
        .into_iter()
        .find(|r| r.id == "akzhar-2012-housing-queue")
        .unwrap();
    let provider = &reg.providers[0];
    let result = reg.result("registration-notice").unwrap();
    let parts = parts(
        provider,
        result,
        &long_values(&reg, provider),
        "1",
        "01.01.2026",
    );
    let lines = layout(&parts);
    // the heading alone is wider than the text width, so it takes several lines
    assert!(text_width(&provider.name.ru, true, 12.0) > TEXT_WIDTH);
    let heading: Vec<&Line> = lines
        .iter()
        .filter(|l| l.page == 0 && l.bold && l.size == 12.0)
        .collect();
    assert!(heading.len() >= 2, "{heading:?}");
    assert_eq!(
        heading
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        provider.name.ru
    );
    check(&lines, "akzhar");
}

#[test]
fn widths_are_the_fonts_advances() {
    // DejaVu Sans: «i» is narrower than «W», bold wider than regular, scaled by size
    assert!(text_width("i", false, 10.0) < text_width("W", false, 10.0));
    assert!(text_width("Ақжар", true, 10.0) > text_width("Ақжар", false, 10.0));
    let w = text_width("Ақжар ауданы", false, 10.0);
    assert!((text_width("Ақжар ауданы", false, 20.0) - 2.0 * w).abs() < 0.001);
    // a line is as wide as its glyphs: the sum of its parts
    let (a, b) = (
        text_width("Ақжар ", false, 10.0),
        text_width("ауданы", false, 10.0),
    );
    assert!((w - a - b).abs() < 0.001);
}
