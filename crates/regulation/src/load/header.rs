//! The top level of the file: the regulation's id, the service, the region and the system
//! that runs it, the overall deadline, the decree and the Standard, when it is in force.

use super::*;

/// The public services a regulation may be of: S1 and S2.
const SERVICES: [&str; 2] = ["housing-queue", "housing-assistance"];

/// The languages an original may be in.
const LANGUAGES: [&str; 2] = ["ru", "kk"];

/// How far the service is automated: with media breaks or without.
const AUTOMATIONS: [&str; 2] = ["partial", "full"];

/// The forms the result is issued in.
const RESULT_FORMS: [&str; 3] = ["electronic", "paper", "electronic-and-paper"];

/// The regulation as its top-level keys give it, with every section still empty: the
/// other validators fill them in.
pub(super) fn header(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Regulation {
    let id = ctx.id(&raw.id, "regulation");
    if !SERVICES.contains(&raw.service.get_ref().as_str()) {
        ctx.at(
            &raw.service,
            format!(
                "unknown service {:?} (known: {})",
                raw.service.get_ref(),
                SERVICES.join(", ")
            ),
        );
    }
    if !egov_topology::is_code(raw.region.get_ref()) {
        ctx.at(
            &raw.region,
            format!(
                "invalid region code {:?} (lowercase latin letters, digits and -, starting with a letter)",
                raw.region.get_ref()
            ),
        );
    }
    if !raw.system.get_ref().starts_with("mio-") {
        ctx.at(
            &raw.system,
            format!(
                "system {:?} is not an ИС МИО (mio-...)",
                raw.system.get_ref()
            ),
        );
    }
    one_of(ctx, &raw.language, "language", &LANGUAGES);
    one_of(ctx, &raw.automation, "automation", &AUTOMATIONS);
    one_of(ctx, &raw.result_form, "result_form", &RESULT_FORMS);
    // the paths under the total are added up with the spans
    let total_deadline = ctx
        .deadline(&raw.total_deadline, "total_deadline")
        .unwrap_or(Deadline::CalendarDays(30));
    Regulation {
        file: ctx.file.to_string(),
        id,
        service: raw.service.get_ref().clone(),
        region: raw.region.get_ref().clone(),
        system: raw.system.get_ref().clone(),
        seed: raw.seed.clone(),
        language: raw.language.get_ref().clone(),
        automation: raw.automation.get_ref().clone(),
        transactional: raw.transactional,
        result_form: raw.result_form.get_ref().clone(),
        total_deadline,
        total_deadline_text: raw.total_deadline_text.clone(),
        total_deadline_derived: reason(ctx, &raw.total_deadline_derived, "total_deadline"),
        title: ctx.text(&raw.title, "title"),
        service_name: ctx.text(&raw.service_name, "service_name"),
        decree_number: raw.decree.number.clone(),
        decree_date: ctx.date(&raw.decree.date, "decree date"),
        decree_issuer: ctx.text(&raw.decree.issuer, "decree issuer"),
        standard: ctx.text(&raw.standard, "standard"),
        refusal_grounds_clause: ctx.text(&raw.refusal_grounds_clause, "refusal_grounds_clause"),
        in_force_from: ctx.date(&raw.in_force.from, "in_force.from"),
        in_force_until: raw
            .in_force
            .until
            .as_ref()
            .map(|u| ctx.date(u, "in_force.until")),
        providers: Vec::new(),
        roles: Vec::new(),
        lanes: Vec::new(),
        categories: Vec::new(),
        fields: Vec::new(),
        documents: Vec::new(),
        refusal_grounds: Vec::new(),
        conditions: Vec::new(),
        statuses: Vec::new(),
        spans: Vec::new(),
        results: Vec::new(),
        steps: Vec::new(),
        channels: Vec::new(),
    }
}

/// A key whose value is one of a few words: "`key` must be a, b or c" otherwise.
fn one_of(ctx: &mut Ctx<'_>, s: &S, key: &str, words: &[&str]) {
    if words.contains(&s.get_ref().as_str()) {
        return;
    }
    let (last, rest) = words.split_last().expect("a table of words is never empty");
    ctx.at(s, format!("{key} must be {} or {last}", rest.join(", ")));
}
