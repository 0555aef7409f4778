//! Every shipped regulation drawn: each channel's and the procedure's diagram holds every
//! step, every way out and every lane of the file.

use std::collections::BTreeSet;

use egov_diagram::{Format, PROCEDURE, draw};
use egov_regulation::Regulation;

fn shipped() -> Vec<Regulation> {
    egov_regulation::load_dir(&egov_regulation::shipped_dir())
        .expect("the shipped regulations load")
}

/// The values of `attr` on the elements of class `class` (a plain text scan: the SVG is
/// ours, one element per line group, attributes in double quotes).
fn attrs(svg: &str, class: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in svg.split("<g class=\"").skip(1) {
        if !chunk.starts_with(class) {
            continue;
        }
        let head = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let key = format!(" {attr}=\"");
        if let Some(p) = head.find(&key) {
            let rest = &head[p + key.len()..];
            out.push(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    out
}

/// The arrows as (from, to, when).
fn edges(svg: &str) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for chunk in svg.split("<g class=\"edge\"").skip(1) {
        let head = &chunk[..chunk.find('>').unwrap()];
        let get = |a: &str| {
            let key = format!(" {a}=\"");
            head.find(&key)
                .map(|p| {
                    let rest = &head[p + key.len()..];
                    rest[..rest.find('"').unwrap()].to_string()
                })
                .unwrap_or_default()
        };
        out.insert((get("data-from"), get("data-to"), get("data-when")));
    }
    out
}

fn decoded(s: &str) -> String {
    s.replace("&amp;", "&")
}

#[test]
fn every_channel_diagram_draws_every_step_branch_and_lane() {
    for reg in shipped() {
        for ch in &reg.channels {
            for lang in ["ru", "kk"] {
                let svg = draw(&reg, &ch.id, lang, Format::Svg).unwrap();
                let steps: BTreeSet<String> =
                    attrs(&svg, "node", "data-step").into_iter().collect();
                let lanes: BTreeSet<String> =
                    attrs(&svg, "lane", "data-lane").into_iter().collect();
                let arrows = edges(&svg);
                for s in ch.steps.iter().chain(&ch.after) {
                    let at = format!("{} channel {} step {}", reg.file, ch.id, s.id);
                    assert!(steps.contains(&s.id), "{at}: not drawn");
                    assert!(lanes.contains(&s.lane), "{at}: lane {} not drawn", s.lane);
                    let decision = !s.conditions.is_empty() || !s.branches.is_empty();
                    let from = if decision {
                        format!("{}?", s.id)
                    } else {
                        s.id.clone()
                    };
                    if decision {
                        assert!(
                            arrows.contains(&(s.id.clone(), from.clone(), String::new())),
                            "{at}: no arrow into its diamond"
                        );
                        for c in &s.conditions {
                            assert!(svg.contains(c.as_str()), "{at}: condition {c} not named");
                        }
                    }
                    for (when, next) in &s.branches {
                        assert!(
                            arrows.contains(&(from.clone(), decoded(next), when.clone())),
                            "{at}: branch {when} → {next} not drawn in {arrows:?}"
                        );
                    }
                    if let Some(next) = &s.next {
                        let when = if decision {
                            "yes".to_string()
                        } else {
                            String::new()
                        };
                        assert!(
                            arrows.contains(&(from.clone(), next.clone(), when)),
                            "{at}: next → {next} not drawn"
                        );
                    }
                }
                // the handoff into the procedure, and the leg after it
                assert!(
                    arrows.iter().any(|(_, to, _)| to == "handoff"),
                    "{}: no handoff",
                    ch.id
                );
                let after = ch.after.first().map_or("end".to_string(), |a| a.id.clone());
                assert!(
                    arrows.contains(&("handoff".into(), after.clone(), String::new())),
                    "{} {}: the procedure does not lead to {after}",
                    reg.file,
                    ch.id
                );
            }
        }
    }
}

#[test]
fn the_procedure_diagram_draws_every_step_outcome_and_lane() {
    for reg in shipped() {
        let svg = draw(&reg, PROCEDURE, "ru", Format::Svg).unwrap();
        let steps: BTreeSet<String> = attrs(&svg, "node", "data-step").into_iter().collect();
        let lanes: BTreeSet<String> = attrs(&svg, "lane", "data-lane").into_iter().collect();
        let arrows = edges(&svg);
        for s in &reg.steps {
            let at = format!("{} step {}", reg.file, s.id);
            assert!(steps.contains(&s.id), "{at}: not drawn");
            assert!(lanes.contains(&s.lane), "{at}: lane not drawn");
            for o in &s.outcomes {
                let drawn = arrows.iter().any(|(f, t, w)| {
                    f.starts_with(&s.id) && *t == o.next && (w == &o.id || w.is_empty())
                });
                assert!(drawn, "{at}: outcome {} → {} not drawn", o.id, o.next);
            }
            if let Some(n) = &s.next {
                assert!(
                    arrows.contains(&(s.id.clone(), n.clone(), String::new())),
                    "{at}: → {n}"
                );
            }
        }
    }
}

#[test]
fn every_lane_of_every_file_is_drawn_somewhere() {
    for reg in shipped() {
        let mut drawn = BTreeSet::new();
        let mut views: Vec<String> = reg.channels.iter().map(|c| c.id.clone()).collect();
        views.push(PROCEDURE.into());
        for v in &views {
            let svg = draw(&reg, v, "ru", Format::Svg).unwrap();
            drawn.extend(attrs(&svg, "lane", "data-lane"));
        }
        let missing: Vec<&str> = reg
            .lanes
            .iter()
            .map(|l| l.id.as_str())
            .filter(|l| !drawn.contains(*l))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: lanes drawn nowhere: {missing:?}",
            reg.file
        );
    }
}

#[test]
fn an_unknown_channel_is_refused_naming_the_known_ones() {
    let reg = &shipped()[0];
    let e = draw(reg, "fax", "ru", Format::Svg).unwrap_err().to_string();
    assert!(e.contains("fax") && e.contains("con"), "{e}");
}

#[test]
fn write_out_for_a_look() {
    // EGOV_DIAGRAM_OUT=dir writes every diagram there (for a person to look at)
    let Ok(dir) = std::env::var("EGOV_DIAGRAM_OUT") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for reg in shipped() {
        for (name, content) in egov_diagram::all(&reg).unwrap() {
            std::fs::write(std::path::Path::new(&dir).join(name), content).unwrap();
        }
    }
}
