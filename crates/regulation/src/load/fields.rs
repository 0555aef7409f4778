//! The application form (`[[fields]]`): what the intake requires of an application.

use super::*;

pub(super) fn fields(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Field> {
    ctx.unique(raw.fields.iter().map(|p| &p.id), "field");
    raw.fields
        .iter()
        .map(|f| {
            let kind = FieldKind::parse(f.kind.get_ref()).unwrap_or_else(|| {
                ctx.at(
                    &f.kind,
                    format!(
                        "unknown field kind {:?} (known: iin, text, date, number, email, phone, category, bool)",
                        f.kind.get_ref()
                    ),
                );
                FieldKind::Text
            });
            Field {
                id: ctx.id_by(&f.id, "field", IdRule::Field),
                kind,
                required: f.required,
                name: ctx.text(&f.name, "field name"),
            }
        })
        .collect()
}
