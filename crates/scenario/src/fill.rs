//! What an applicant fills in: the regulation's form fields and the scans of its
//! documents, the same for every door.

use base64::Engine as _;
use serde_json::{Value, json};

use egov_regulation::{FieldKind, Regulation};

/// The form fields of `reg` (those that are neither the applicant's nor the category),
/// each with a value of its kind.
pub fn form(reg: &Regulation) -> Value {
    let mut form = serde_json::Map::new();
    for f in &reg.fields {
        if f.id.contains('.') || f.id == "category" {
            continue;
        }
        let v = match f.kind {
            FieldKind::Number => json!(3),
            FieldKind::Date => json!("2020-01-01"),
            FieldKind::Bool => json!(true),
            FieldKind::Email => json!("applicant@example.kz"),
            FieldKind::Phone => json!("+7 701 123 45 67"),
            _ => json!(format!("{} (тест)", f.name.ru)),
        };
        form.insert(f.id.clone(), v);
    }
    Value::Object(form)
}

/// A scan (a small PDF) of the document `kind`, as the portal's attachment.
pub fn scan(kind: &str) -> Value {
    json!({
        "kind": kind,
        "name": format!("{kind}.pdf"),
        "media_type": "application/pdf",
        "content": base64::engine::general_purpose::STANDARD.encode(format!("%PDF-1.4 scan of {kind}")),
    })
}

/// The documents of `category` presented at a desk, paper original and scan, all but
/// `omit`.
pub fn documents(reg: &Regulation, category: &str, omit: &[String]) -> Value {
    Value::Array(
        reg.required_documents(category)
            .into_iter()
            .filter(|d| !omit.contains(&d.id))
            .map(|d| {
                let mut v = scan(&d.id);
                v["paper"] = json!(true);
                v
            })
            .collect(),
    )
}

/// A complete submission at a desk for `reg` and `category`.
pub fn submission(reg: &Regulation, category: &str, omit: &[String]) -> Value {
    json!({
        "category": category,
        "phone": "+7 701 123 45 67",
        "email": "applicant@example.kz",
        "form": form(reg),
        "documents": documents(reg, category, omit),
    })
}
