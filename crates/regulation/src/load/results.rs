//! The result documents (`[[results]]`): their kind, the status they leave the application
//! in, their title and body.

use super::*;

pub(super) fn results(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<ResultDoc> {
    ctx.unique(raw.results.iter().map(|p| &p.id), "result");
    raw.results
        .iter()
        .map(|r| {
            let kind = ResultKind::parse(r.kind.get_ref()).unwrap_or_else(|| {
                ctx.at(&r.kind, format!("unknown result kind {:?} (known: registration, refusal, return, assignment)", r.kind.get_ref()));
                ResultKind::Refusal
            });
            let final_status = match Status::parse(r.final_status.get_ref()) {
                Some(s @ (Status::Completed | Status::Refused | Status::Returned)) => s,
                _ => {
                    ctx.at(&r.final_status, format!("final_status {:?} must be completed, refused or returned", r.final_status.get_ref()));
                    Status::Completed
                }
            };
            ResultDoc {
                id: ctx.id(&r.id, "result"),
                kind,
                final_status,
                title: ctx.text(&r.title, "result title"),
                body: ctx.text(&r.body, "result body"),
            }
        })
        .collect()
}
