//! A regulation's form on a page: its categories to choose from, its fields (but the
//! applicant's, which come from the registries or the account, and the category) as
//! inputs of their kind, its documents; and the values posted back (`form.<field>`) as
//! the application's form, typed by the field's kind.

use egov_regulation::{FieldKind, Regulation};
use serde_json::{Map, Value};

/// The prefix of a form field's input name (`form.<field id>`).
pub const PREFIX: &str = "form.";

/// An id and its name in the page's language.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is the one chosen.
    pub selected: bool,
}

/// A field of the form as an input.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's id (the input is `form.<id>`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The input's type (`text`, `number`, `date`, `checkbox`, `email`, `tel`).
    pub input: &'static str,
    /// Whether the regulation requires it.
    pub required: bool,
    /// What was entered (a form shown again after an error).
    pub value: String,
}

/// A document of the regulation.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document's id (a scan's input is `scan.<id>`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is required (of the categories it applies to).
    pub required: bool,
}

/// Whether a field is the applicant's own (`applicant.*`) or the category: not an
/// input of the form.
fn own(f: &egov_regulation::Field) -> bool {
    !f.id.contains('.') && f.kind != FieldKind::Category
}

/// The categories, `chosen` selected (the first when none or unknown).
pub fn categories(reg: &Regulation, lang: &str, chosen: &str) -> Vec<Choice> {
    let known = reg.categories.iter().any(|c| c.id == chosen);
    reg.categories
        .iter()
        .enumerate()
        .map(|(i, c)| Choice {
            id: c.id.clone(),
            name: c.name.get(lang).to_string(),
            selected: if known { c.id == chosen } else { i == 0 },
        })
        .collect()
}

/// The fields to fill, with what `entered` holds for them.
pub fn fields(reg: &Regulation, lang: &str, entered: &[(String, String)]) -> Vec<Field> {
    reg.fields
        .iter()
        .filter(|f| own(f))
        .map(|f| Field {
            id: f.id.clone(),
            name: f.name.get(lang).to_string(),
            input: match f.kind {
                FieldKind::Number => "number",
                FieldKind::Date => "date",
                FieldKind::Bool => "checkbox",
                FieldKind::Email => "email",
                FieldKind::Phone => "tel",
                _ => "text",
            },
            required: f.required,
            value: crate::field(entered, &format!("{PREFIX}{}", f.id)).to_string(),
        })
        .collect()
}

/// The documents.
pub fn documents(reg: &Regulation, lang: &str) -> Vec<Document> {
    reg.documents
        .iter()
        .map(|d| Document {
            id: d.id.clone(),
            name: d.name.get(lang).to_string(),
            required: d.required,
        })
        .collect()
}

/// The form of the values posted (`form.<field>`): a checkbox is `true` when ticked and
/// `false` when not, a number a number where it parses (else the text, for the form's
/// check to name), an empty input left out.
pub fn values(reg: &Regulation, posted: &[(String, String)]) -> Map<String, Value> {
    let mut form = Map::new();
    for f in reg.fields.iter().filter(|f| own(f)) {
        let raw = crate::field(posted, &format!("{PREFIX}{}", f.id)).trim();
        let value = match f.kind {
            FieldKind::Bool => Some(Value::Bool(!raw.is_empty())),
            _ if raw.is_empty() => None,
            FieldKind::Number => Some(
                raw.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| raw.parse::<f64>().map(Value::from))
                    .unwrap_or_else(|_| Value::String(raw.to_string())),
            ),
            _ => Some(Value::String(raw.to_string())),
        };
        if let Some(v) = value {
            form.insert(f.id.clone(), v);
        }
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<Regulation> {
        egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap()
    }

    #[test]
    fn the_form_is_the_regulations_own_fields_typed_by_kind() {
        for reg in shipped() {
            let inputs = fields(&reg, "kk", &[]);
            assert!(inputs.iter().all(|f| !f.id.contains('.')), "{}", reg.id);
            let posted: Vec<(String, String)> = reg
                .fields
                .iter()
                .map(|f| (format!("{PREFIX}{}", f.id), "12".to_string()))
                .collect();
            let form = values(&reg, &posted);
            for f in &inputs {
                let v = &form[&f.id];
                match f.input {
                    "checkbox" => assert_eq!(v, &Value::Bool(true)),
                    "number" => assert_eq!(v, &Value::from(12)),
                    _ => assert_eq!(v, &Value::from("12")),
                }
            }
            assert!(values(&reg, &[]).values().all(|v| v == &Value::Bool(false)));
            let chosen = &reg.categories.last().unwrap().id;
            let cats = categories(&reg, "ru", chosen);
            assert_eq!(cats.iter().filter(|c| c.selected).count(), 1);
            assert!(cats.iter().any(|c| c.selected && &c.id == chosen));
            assert!(categories(&reg, "ru", "nonsense")[0].selected);
            assert_eq!(documents(&reg, "ru").len(), reg.documents.len());
        }
    }
}
