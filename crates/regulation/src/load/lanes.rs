//! The lanes (`[[lanes]]`): the structural-functional units of the diagrams, each of one
//! system.

use super::*;

/// The systems a lane may be of: the information systems, then the people and bodies
/// that work outside them (`mio`: the lanes ИС МИО executes).
const SYSTEMS: [&str; 14] = [
    "mio",
    "portal",
    "shep",
    "rshep",
    "gbd-fl",
    "enis",
    "con-is",
    "uc",
    "citizen",
    "employee",
    "operator",
    "courier",
    "state-corp",
    "notary",
];

pub(super) fn lanes(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Vec<Lane> {
    ctx.unique(raw.lanes.iter().map(|p| &p.id), "lane");
    raw.lanes
        .iter()
        .map(|l| {
            if !SYSTEMS.contains(&l.system.get_ref().as_str()) {
                ctx.at(
                    &l.system,
                    format!(
                        "lane system {:?} is not one of {}",
                        l.system.get_ref(),
                        SYSTEMS.join(", ")
                    ),
                );
            }
            Lane {
                id: ctx.id(&l.id, "lane"),
                system: l.system.get_ref().clone(),
                name: ctx.text(&l.name, "lane name"),
            }
        })
        .collect()
}
