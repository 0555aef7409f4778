//! The steps of a regulation's `portal` channel that the portal executes, recorded on
//! each application as the citizen and the portal go through them, with their due
//! times, and the SLA monitor over them (shared with ИС ЦОН: [`egov_steps`]).
//!
//! The channel is walked forward from its first step; only the steps
//! `executed_by = "portal"` are recorded (the regional gateway's routing, ШЭП's
//! processing and ИС ЦОН's display belong to those systems). How the portal's
//! operations split them ([`plan`]):
//!
//! - the steps before the C-auth diamond (the registration, drawn only for a citizen not
//!   yet registered): recorded on the citizen's first application, when the account was
//!   made;
//! - the C-auth diamond (the login): recorded on each new draft as done, with `yes`,
//!   when the citizen's session began;
//! - the form's steps, from the draft to the signature: the first is opened when the
//!   draft is made and due by its deadline from then, the rest are done at the
//!   signature. A C-sign refusal closes the C-sign diamond with `no` and records the
//!   refusal's steps; the draft stays open, and a later good signature closes the
//!   diamond again with `yes`;
//! - the send (the last portal step before the handoff, or the last one in the portal's
//!   own lane): opened at the signature and done when the gateway takes the
//!   application, so a gateway that is down leaves it open past its due time;
//! - the leg after the procedure: when the final status or the result arrives, the
//!   portal's own steps are done at its arrival (begun when ИС МИО sent it), and the
//!   citizen's (receiving, viewing the result) are opened then and done when the citizen
//!   first opens the application or its result.
//!
//! A refused login has no application to record on: it is counted in
//! `egov_portal_login_refused_total` instead.

use egov_regulation::{ChannelStep, Regulation};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Core;
pub use egov_steps::{Recorder, Sla, StepRun};

/// The system id channel steps name when the portal executes them.
pub const EXECUTED_BY: &str = "portal";
/// The channel the portal executes.
pub const CHANNEL: &str = "portal";
/// The citizen's lane.
pub const CITIZEN_LANE: &str = "citizen";

/// The portal's steps on the `portal` channel and its SLA metrics.
pub const SLA: Sla = Sla {
    system: EXECUTED_BY,
    channel: CHANNEL,
    overdue_total: "egov_portal_steps_overdue_total",
    open_overdue: "egov_portal_open_overdue_steps",
};

/// How the portal's operations split a regulation's `portal` channel.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Before the login (the registration).
    pub before: Vec<&'a ChannelStep>,
    /// The C-auth diamond.
    pub login: Option<&'a ChannelStep>,
    /// From the draft to the signature (the first opened with the draft).
    pub form: Vec<&'a ChannelStep>,
    /// The send, done when the gateway takes the application.
    pub send: Option<&'a ChannelStep>,
    /// The diamond that decides C-sign.
    pub sign: Option<&'a ChannelStep>,
    /// The steps of the refusal when C-sign fails.
    pub sign_refused: Vec<&'a ChannelStep>,
    /// The portal's steps after the procedure.
    pub after: Vec<&'a ChannelStep>,
}

fn decides(s: &ChannelStep, condition: &str) -> bool {
    s.conditions.iter().any(|c| c == condition)
}

/// The plan of a regulation's `portal` channel (empty when it has none).
pub fn plan(reg: &Regulation) -> Plan<'_> {
    let Some(ch) = reg.channel(CHANNEL) else {
        return Plan::default();
    };
    let path = egov_steps::forward_path(ch);
    let ours: Vec<&ChannelStep> = path
        .iter()
        .copied()
        .filter(|s| s.executed_by == EXECUTED_BY)
        .collect();
    let login_at = ours.iter().position(|s| decides(s, "C-auth"));
    let (before, rest) = match login_at {
        Some(i) => (ours[..i].to_vec(), &ours[i + 1..]),
        None => (Vec::new(), &ours[..]),
    };
    let mut form = rest.to_vec();
    let send = match form.last() {
        Some(last)
            if last.lane != CITIZEN_LANE
                || egov_steps::successor(last, "yes") == Some("handoff") =>
        {
            form.pop()
        }
        _ => None,
    };
    let sign = path.iter().copied().find(|s| decides(s, "C-sign"));
    let sign_refused = sign
        .map(|s| {
            egov_steps::refusal_path(ch, s)
                .into_iter()
                .filter(|s| s.executed_by == EXECUTED_BY)
                .collect()
        })
        .unwrap_or_default();
    Plan {
        before,
        login: login_at.map(|i| ours[i]),
        form,
        send,
        sign,
        sign_refused,
        after: egov_steps::after_path(ch)
            .into_iter()
            .filter(|s| s.executed_by == EXECUTED_BY)
            .collect(),
    }
}

fn recorder<'a>(
    core: &'a Core,
    reg: &'a Regulation,
    application: Uuid,
    by: &'a str,
    now: OffsetDateTime,
) -> Recorder<'a> {
    Recorder::new(&SLA, core.calendar, reg, application, by, now)
}

/// A new draft: the registration (on the citizen's first application), the login when
/// the citizen's latest session began, and the form's first step opened now.
pub async fn drafted(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    citizen: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let p = plan(reg);
    let (registered, first, session): (OffsetDateTime, bool, Option<OffsetDateTime>) =
        sqlx::query_as(
            "select c.created_at,
                    not exists (select 1 from applications a
                                where a.citizen_iin = c.iin and a.id <> $2 and a.channel = 'portal'),
                    (select max(s.created_at) from sessions s where s.citizen_iin = c.iin and s.created_at <= $3)
             from citizens c where c.iin = $1",
        )
        .bind(citizen)
        .bind(application)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    if first && !p.before.is_empty() {
        recorder(core, reg, application, citizen, registered)
            .done(tx, &p.before, registered, None)
            .await?;
    }
    if let Some(login) = p.login {
        let at = session.unwrap_or(now);
        recorder(core, reg, application, citizen, at)
            .done(tx, &[login], at, Some("yes"))
            .await?;
    }
    if let Some(first) = p.form.first() {
        recorder(core, reg, application, citizen, now)
            .open(tx, first, now)
            .await?;
    }
    Ok(())
}

/// C-sign failed: the diamond closed with `no` (where it is still open or was closed
/// with `no`) and the refusal's steps recorded (the first time).
pub async fn sign_refused(
    core: &Core,
    reg: &Regulation,
    application: Uuid,
    citizen: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let p = plan(reg);
    let mut tx = core.pool.begin().await?;
    let rec = recorder(core, reg, application, citizen, now);
    if let Some(sign) = p.sign {
        rec.complete(&mut tx, sign, Some("no"), true).await?;
    }
    rec.done(&mut tx, &p.sign_refused, now, None).await?;
    tx.commit().await?;
    Ok(())
}

/// The citizen's signature passed C-sign: the form's steps done (the first where it is
/// open, begun when the draft was made; a diamond with `yes`) and the send opened.
pub async fn signed(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    citizen: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let p = plan(reg);
    let rec = recorder(core, reg, application, citizen, now);
    let mut rest = &p.form[..];
    if let Some((first, tail)) = p.form.split_first() {
        let outcome = (!first.conditions.is_empty()).then_some("yes");
        if !rec.complete(tx, first, outcome, true).await? {
            rec.finish(tx, first, now, outcome).await?;
        }
        rest = tail;
    }
    let last = rest.last().is_some_and(|s| !s.conditions.is_empty());
    rec.done(tx, rest, now, last.then_some("yes")).await?;
    if let Some(send) = p.send {
        rec.open(tx, send, now).await?;
    }
    Ok(())
}

/// The gateway took the application: the send done (by the citizen where the file draws
/// it in the citizen's lane, signing and sending in one step).
pub async fn delivered(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    citizen: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    if let Some(send) = plan(reg).send {
        let by = if send.lane == CITIZEN_LANE {
            citizen
        } else {
            EXECUTED_BY
        };
        recorder(core, reg, application, by, now)
            .finish(tx, send, now, None)
            .await?;
    }
    Ok(())
}

/// The final status or the result arrived (sent by ИС МИО at `sent`): the portal's own
/// steps after the procedure done now, the citizen's opened.
pub async fn answered(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    sent: OffsetDateTime,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let rec = recorder(core, reg, application, EXECUTED_BY, now);
    let mut begun = sent.min(now);
    for s in plan(reg).after {
        if s.lane == CITIZEN_LANE {
            rec.open(tx, s, now).await?;
            begun = now;
        } else {
            begun = rec.done(tx, &[s], begun, None).await?;
        }
    }
    Ok(())
}

/// The citizen opened the answered application or its result: the citizen's steps after
/// the procedure done.
pub async fn received(
    core: &Core,
    reg: &Regulation,
    application: Uuid,
    citizen: &str,
) -> sqlx::Result<()> {
    let after: Vec<&ChannelStep> = plan(reg)
        .after
        .into_iter()
        .filter(|s| s.lane == CITIZEN_LANE)
        .collect();
    if after.is_empty() {
        return Ok(());
    }
    let rec = recorder(core, reg, application, citizen, core.clock.now());
    // each step's update stands alone: no transaction around them, so that a GET of an
    // answered application costs one statement a step and no more
    let mut conn = core.pool.acquire().await?;
    for s in after {
        rec.complete(&mut conn, s, None, false).await?;
    }
    Ok(())
}

/// [`received`] for an application its owner opened, once it is answered; a failure to
/// record is logged, the citizen sees the application either way.
pub async fn received_by(core: &Core, app: &crate::applications::Application) {
    let answered = app.result.is_some()
        || app
            .status
            .as_deref()
            .and_then(egov_regulation::Status::parse)
            .is_some_and(|s| s.is_final());
    if !answered || app.state == "at-centre" {
        return;
    }
    let Some(reg) = core.catalog.get(&app.regulation_id) else {
        return;
    };
    if let Err(e) = received(core, reg, app.id, &app.citizen_iin).await {
        tracing::warn!(application = %app.number, error = %e, "recording the result's receipt");
    }
}

/// The steps of an application, in order.
pub async fn of(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Vec<StepRun>> {
    egov_steps::of(pool, application).await
}

/// Flags the open steps past their due time now, once each.
pub async fn scan(core: &Core) -> sqlx::Result<Vec<egov_steps::Overdue>> {
    egov_steps::scan(&SLA, &core.pool, core.clock.now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&ChannelStep]) -> Vec<String> {
        v.iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn every_portal_channel_has_a_plan() {
        let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
        let mut seen = 0;
        for r in &regs {
            if r.channel(CHANNEL).is_none() {
                continue;
            }
            seen += 1;
            let p = plan(r);
            assert!(p.login.is_some(), "{}: a login", r.id);
            assert!(!p.form.is_empty(), "{}: a form", r.id);
            assert!(p.sign.is_some(), "{}: C-sign decided", r.id);
            assert!(!p.sign_refused.is_empty(), "{}: a refusal", r.id);
            assert!(!p.after.is_empty(), "{}: the way back", r.id);
        }
        assert_eq!(seen, 5);
    }

    #[test]
    fn the_plans_follow_the_drawings() {
        let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
        let by = |id: &str| regs.iter().find(|r| r.id == id).unwrap();
        let p = plan(by("almaty-2016-housing-assistance"));
        assert_eq!(ids(&p.before), ["portal-signup"]);
        assert_eq!(p.login.unwrap().id, "portal-login");
        assert_eq!(ids(&p.form), ["portal-fill-form"]);
        assert_eq!(p.send.unwrap().id, "portal-send");
        assert_eq!(p.sign.unwrap().id, "portal-fill-form");
        assert_eq!(ids(&p.sign_refused), ["portal-sign-refused"]);
        assert_eq!(ids(&p.after), ["portal-receive"]);

        // Almaty 2013 decides C-auth and C-sign in one diamond; the regional gateway routes
        let p = plan(by("almaty-2013-housing-queue"));
        assert_eq!(p.sign.unwrap().id, "portal-login");
        assert_eq!(ids(&p.form), ["portal-fill-form", "portal-sign"]);
        assert!(p.send.is_none());
        assert_eq!(ids(&p.sign_refused), ["portal-refused"]);
        assert_eq!(ids(&p.after), ["portal-show-status", "portal-cabinet"]);

        // the citizen signs and sends in one step, which ends at the handoff
        let p = plan(by("akzhar-2012-housing-queue"));
        assert_eq!(p.send.unwrap().id, "portal-sign-and-send");
        assert!(p.before.is_empty());

        let p = plan(by("atyrau-2012-housing-queue"));
        assert_eq!(ids(&p.after), ["portal-answer", "portal-view-result"]);
    }
}
