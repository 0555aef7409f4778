//! The statuses the file names (`[[statuses]]`), each on a base status, and the `status`
//! of a step, an outcome or a variant resolved against them.

use super::*;

pub(super) fn statuses(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<StatusDef> {
    ctx.unique(raw.statuses.iter().map(|s| &s.id), "status");
    raw.statuses
        .iter()
        .map(|s| {
            let id = ctx.id(&s.id, "status");
            if Status::parse(&id).is_some() {
                ctx.at(
                    &s.id,
                    format!("status id {id:?} is a base status: give the file's own id"),
                );
            }
            let base = match Status::parse(s.base.get_ref()) {
                Some(Status::Rejected) | None => {
                    ctx.at(
                        &s.base,
                        format!(
                            "status {id:?}: base {:?} must be received, in_progress, completed, refused or returned",
                            s.base.get_ref()
                        ),
                    );
                    Status::Received
                }
                Some(b) => b,
            };
            StatusDef {
                derived: reason(ctx, &s.derived, &format!("status {id:?}")),
                id,
                base,
                name: ctx.text(&s.name, "status name"),
            }
        })
        .collect()
}

/// A status as a step names it: a file status (`[[statuses]]`) or a base status, as
/// `(base, the id written)`.
pub(super) fn resolve(
    ctx: &mut Ctx<'_>,
    statuses: &[StatusDef],
    s: &Option<S>,
) -> (Option<Status>, Option<String>) {
    let Some(s) = s.as_ref() else {
        return (None, None);
    };
    if let Some(def) = statuses.iter().find(|d| d.id == *s.get_ref()) {
        return (Some(def.base), Some(def.id.clone()));
    }
    match Status::parse(s.get_ref()) {
        Some(Status::Rejected) | None => {
            let mut known: Vec<&str> = statuses.iter().map(|d| d.id.as_str()).collect();
            known.extend([
                "received",
                "in_progress",
                "completed",
                "refused",
                "returned",
            ]);
            ctx.at(
                s,
                format!(
                    "unknown status {:?} (known: {})",
                    s.get_ref(),
                    known.join(", ")
                ),
            );
            (None, None)
        }
        Some(x) => (Some(x), Some(x.as_str().to_string())),
    }
}
