//! Result documents as PDF: the regulation's template filled in, in Russian and in
//! Kazakh (`egov-documents`: DejaVu Sans embedded, so every Cyrillic and Kazakh letter
//! renders and extracts), then signed by the authorised person (CMS SignedData,
//! detached, over the exact PDF bytes).

use egov_regulation::{Provider, ResultDoc};

pub use egov_documents::{
    A4_H, A4_W, Line, MARGIN, Part, TEXT_WIDTH, Values, fill, layout, text_width, wrap,
};

/// The parts of a result document, Russian then Kazakh: `result` of the regulation
/// issued by `provider` for the application `number` of `date` (`dd.mm.yyyy`), its
/// template filled from `values`.
pub fn parts(
    provider: &Provider,
    result: &ResultDoc,
    values: &Values,
    number: &str,
    date: &str,
) -> Vec<Part> {
    ["ru", "kk"]
        .into_iter()
        .map(|lang| Part {
            header: provider.name.get(lang).to_string(),
            address: provider
                .address
                .as_ref()
                .map(|a| a.get(lang).to_string())
                .unwrap_or_default(),
            reference: if lang == "kk" {
                format!("{date} жылғы өтінішке № {number}")
            } else {
                format!("К заявлению № {number} от {date}")
            },
            title: result.title.get(lang).to_string(),
            body: fill(result.body.get(lang), values, lang),
            footer: if lang == "kk" {
                "Электрондық құжат уәкілетті адамның ЭЦҚ-сымен қол қойылған (CMS).".to_string()
            } else {
                "Электронный документ подписан ЭЦП уполномоченного лица (CMS).".to_string()
            },
        })
        .collect()
}

/// Renders a result document's parts as a PDF made by ИС МИО.
pub fn render(parts: &[Part], title: &str) -> Result<Vec<u8>, String> {
    egov_documents::render(parts, title, "ИС МИО (egov-mirror)")
}
