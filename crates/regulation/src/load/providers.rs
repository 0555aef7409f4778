//! The providers (`[[providers]]`): the bodies (услугодатели) that execute the procedure.

use super::*;

pub(super) fn providers(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Provider> {
    ctx.unique(raw.providers.iter().map(|p| &p.id), "provider");
    if raw.providers.is_empty() {
        ctx.at(&raw.id, "no [[providers]]");
    }
    raw.providers
        .iter()
        .map(|p| {
            let bin = p.bin.get_ref();
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                ctx.at(&p.bin, format!("BIN {bin:?} must be 12 digits"));
            }
            Provider {
                id: ctx.id(&p.id, "provider"),
                bin: bin.clone(),
                name: ctx.text(&p.name, "provider name"),
                address: p.address.as_ref().map(|a| ctx.text(a, "provider address")),
                phone: p.phone.clone(),
                hours: p.hours.as_ref().map(|a| ctx.text(a, "provider hours")),
            }
        })
        .collect()
}
