//! SVG: lanes as bands with their names at the left, boxes with the form of completion
//! and the deadline, diamonds with the conditions, orthogonal arrows with the ways out.
//! The text is set in a named font with Cyrillic and Kazakh letters (DejaVu Sans, which
//! every Linux desktop and the project's PDFs carry), falling back to the reader's sans.
//!
//! Every element says what it stands for: a lane `data-lane`, a node `data-step` (the
//! file's step id) or `data-node`, an arrow `data-from`, `data-to` and `data-when`, so that
//! a test, or a reader's script, can hold the drawing against the file.

use std::fmt::Write as _;

use crate::graph::{Graph, NodeKind};
use crate::layout::{HEADER_W, Layout, Rect};
use crate::text::{esc, wrap};

/// What an arrow's end stands for in `data-from`/`data-to`: the step id for a box, the
/// step id and `?` for its diamond, `handoff` for the procedure, `start`, `end`.
pub fn node_ref(g: &Graph, i: usize) -> String {
    let n = &g.nodes[i];
    match n.kind {
        NodeKind::Task => n.step.clone().unwrap_or_else(|| n.key.clone()),
        NodeKind::Decision => format!("{}?", n.step.as_deref().unwrap_or(&n.key)),
        NodeKind::Procedure => "handoff".into(),
        NodeKind::Start => "start".into(),
        NodeKind::End => match (&n.step, g.key.as_str()) {
            (Some(s), _) => s.clone(),
            _ => "end".into(),
        },
        NodeKind::Join => {
            // a join stands for the node it leads into
            let next = g.outgoing(i).next().map(|e| e.to);
            next.map_or_else(|| n.key.clone(), |t| node_ref(g, t))
        }
    }
}

const LANE_FILL: [&str; 2] = ["#f7f9fc", "#eef2f8"];

/// Renders `g` laid out as `l`.
pub fn render(g: &Graph, l: &Layout) -> String {
    let mut s = String::new();
    let (w, h) = (l.width, l.height);
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="'DejaVu Sans', 'PT Sans', 'Noto Sans', Arial, sans-serif" font-size="11" lang="{}" data-diagram="{}">"##,
        g.lang,
        esc(&g.key)
    );
    let _ = writeln!(
        s,
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>"##
    );
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="12" y="24" font-size="16" font-weight="bold">{}</text>"##,
        esc(&g.title)
    );
    let _ = writeln!(
        s,
        r##"<text x="12" y="44" font-size="11" fill="#555">{}</text>"##,
        esc(&g.subtitle)
    );

    for (i, (lane, r)) in g.lanes.iter().zip(&l.lanes).enumerate() {
        let _ = writeln!(
            s,
            r##"<g class="lane" data-lane="{}" data-system="{}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#9aa5b5"/><rect x="{:.1}" y="{:.1}" width="{HEADER_W:.1}" height="{:.1}" fill="#dfe6f0" stroke="#9aa5b5"/>"##,
            esc(&lane.id),
            esc(&lane.system),
            r.x,
            r.y,
            r.w,
            r.h,
            LANE_FILL[i % 2],
            r.x,
            r.y,
            r.h
        );
        text_block(
            &mut s,
            &lane.name,
            r.x + 8.0,
            r.y + 20.0,
            22,
            6,
            "bold",
            11.0,
        );
        if lane.idle {
            let _ = write!(
                s,
                r##"<text class="idle" x="{:.1}" y="{:.1}" font-size="10" font-style="italic" fill="#777">{}</text>"##,
                HEADER_W + 16.0,
                r.y + r.h / 2.0 + 4.0,
                esc(crate::words::Words::of(&g.lang).idle)
            );
        }
        s.push_str("</g>\n");
    }

    for (i, e) in g.edges.iter().enumerate() {
        let route = &l.routes[i];
        let d: String = route
            .points
            .iter()
            .enumerate()
            .map(|(k, (x, y))| format!("{}{x:.1},{y:.1}", if k == 0 { "M" } else { " L" }))
            .collect();
        let when = e
            .when
            .as_deref()
            .map(|w| format!(r#" data-when="{}""#, esc(w)))
            .unwrap_or_default();
        let _ = write!(
            s,
            r##"<g class="edge" data-from="{}" data-to="{}"{when}><path d="{d}" fill="none" stroke="#333" stroke-width="1.2" marker-end="url(#arrow)"/>"##,
            esc(&node_ref(g, e.from)),
            esc(&node_ref(g, e.to)),
        );
        if let Some(label) = &e.label {
            text_block(
                &mut s,
                label,
                route.label.x,
                route.label.y,
                18,
                2,
                "normal",
                9.5,
            );
        }
        s.push_str("</g>\n");
    }

    for (i, n) in g.nodes.iter().enumerate() {
        let r = l.nodes[i];
        let kind = match n.kind {
            NodeKind::Start => "start",
            NodeKind::End => "end",
            NodeKind::Task => "task",
            NodeKind::Decision => "decision",
            NodeKind::Join => "join",
            NodeKind::Procedure => "procedure",
        };
        let mut id_attr = match &n.step {
            Some(step) => format!(r#" data-step="{}""#, esc(step)),
            None => String::new(),
        };
        if n.overdue {
            id_attr.push_str(r#" data-overdue="true""#);
        }
        let _ = write!(
            s,
            r#"<g class="node {kind}" id="n-{}" data-node="{}"{id_attr}>"#,
            esc(&n.key),
            esc(&node_ref(g, i))
        );
        let mut tip = n.label.clone();
        if !n.detail.is_empty() {
            tip = format!("{tip}\n{}", n.detail);
        }
        if let Some(sys) = &n.system {
            tip = format!("{tip}\n[{sys}]");
        }
        if !tip.is_empty() {
            let _ = write!(s, "<title>{}</title>", esc(&tip));
        }
        match n.kind {
            NodeKind::Task | NodeKind::Procedure => box_node(&mut s, n, r, &g.lang),
            NodeKind::Decision => {
                let (cx, cy) = (r.cx(), r.cy());
                let _ = write!(
                    s,
                    r##"<path d="M{cx:.1},{:.1} L{:.1},{cy:.1} L{cx:.1},{:.1} L{:.1},{cy:.1} z" fill="#fff7db" stroke="#a07d00" stroke-width="1.3"/><text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="16" fill="#a07d00">?</text>"##,
                    r.y,
                    r.right(),
                    r.bottom(),
                    r.x,
                    cy + 6.0
                );
                let lines = wrap(&n.label, 22, 2);
                let top = r.y - 6.0 - 11.0 * (lines.len() as f64 - 1.0);
                for (k, line) in lines.iter().enumerate() {
                    let _ = write!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="10" font-weight="bold" fill="#6b5300">{}</text>"##,
                        r.x - 4.0,
                        top + 11.0 * k as f64,
                        esc(line)
                    );
                }
            }
            NodeKind::Join => {
                let (cx, cy) = (r.cx(), r.cy());
                let _ = write!(
                    s,
                    r##"<path d="M{cx:.1},{:.1} L{:.1},{cy:.1} L{cx:.1},{:.1} L{:.1},{cy:.1} z" fill="#ffffff" stroke="#666"/>"##,
                    r.y,
                    r.right(),
                    r.bottom(),
                    r.x
                );
            }
            NodeKind::Start | NodeKind::End => {
                let stroke = if n.kind == NodeKind::End { 3.0 } else { 1.5 };
                let _ = write!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="#ffffff" stroke="#333" stroke-width="{stroke}"/>"##,
                    r.cx(),
                    r.cy(),
                    r.w / 2.0
                );
                let lines = wrap(&n.label, 16, 2);
                for (k, line) in lines.iter().enumerate() {
                    let _ = write!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9.5">{}</text>"#,
                        r.cx(),
                        r.bottom() + 12.0 + 11.0 * k as f64,
                        esc(line)
                    );
                }
            }
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>\n");
    s
}

fn box_node(s: &mut String, n: &crate::graph::Node, r: Rect, lang: &str) {
    let (fill, stroke, width) = if n.overdue {
        ("#fde8e8", "#c0392b", 2.5)
    } else if n.kind == NodeKind::Procedure {
        ("#e8f1e4", "#3b7a2a", 2.5)
    } else {
        ("#ffffff", "#35557f", 1.3)
    };
    let _ = write!(
        s,
        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="7" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>"#,
        r.x, r.y, r.w, r.h
    );
    let max_lines = if n.deadline_label.is_some() { 4 } else { 5 };
    let lines = wrap(&n.label, 22, max_lines);
    // the text block in the middle of the room above the deadline line
    let room = if n.deadline_label.is_some() {
        r.h - 14.0
    } else {
        r.h
    };
    let top = r.y + (room - 12.0 * lines.len() as f64) / 2.0 + 9.5;
    for (k, line) in lines.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10.5">{}</text>"#,
            r.cx(),
            top + 12.0 * k as f64,
            esc(line)
        );
    }
    if let Some(d) = &n.deadline_label {
        let words = crate::words::Words::of(lang);
        let text = if n.key.starts_with("hop-") || n.key.starts_with("run-") {
            d.clone()
        } else {
            format!("{}: {d}", words.deadline)
        };
        let line = wrap(&text, 27, 1).pop().unwrap_or_default();
        let _ = write!(
            s,
            r##"<text class="deadline" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9.5" font-style="italic" fill="#8a2b00">{}</text>"##,
            r.cx(),
            r.bottom() - 6.0,
            esc(&line)
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn text_block(
    s: &mut String,
    text: &str,
    x: f64,
    y: f64,
    chars: usize,
    lines: usize,
    weight: &str,
    size: f64,
) {
    for (k, line) in wrap(text, chars, lines).iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="{size}" font-weight="{weight}">{}</text>"#,
            y + (size + 2.0) * k as f64,
            esc(line)
        );
    }
}
