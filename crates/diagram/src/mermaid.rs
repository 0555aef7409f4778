//! Mermaid flowchart text: one subgraph per lane, the same nodes and arrows as the other
//! formats. GitHub and GitLab render it in Markdown.

use std::fmt::Write as _;

use crate::graph::{Graph, NodeKind};

/// Mermaid's escaping inside a quoted label.
fn label(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', " ")
}

/// Renders `g`.
pub fn render(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "---\ntitle: \"{}\"\n---", label(&g.title));
    s.push_str("flowchart LR\n");
    for (li, lane) in g.lanes.iter().enumerate() {
        let _ = writeln!(s, "  subgraph L{li}[\"{}\"]", label(&lane.name));
        s.push_str("    direction LR\n");
        if lane.idle {
            let w = crate::words::Words::of(&g.lang);
            let _ = writeln!(s, "    idle{li}[\"{}\"]", label(w.idle));
        }
        for (i, n) in g.nodes.iter().enumerate().filter(|(_, n)| n.lane == li) {
            let mut text = label(&n.label);
            if let Some(d) = &n.deadline_label {
                let w = crate::words::Words::of(&g.lang);
                text = format!("{text}<br/><i>{}: {}</i>", w.deadline, label(d));
            }
            let shape = match n.kind {
                NodeKind::Start | NodeKind::End => format!("((\"{text}\"))"),
                NodeKind::Task => format!("[\"{text}\"]"),
                NodeKind::Procedure => format!("[[\"{text}\"]]"),
                NodeKind::Decision => format!("{{\"{text}\"}}"),
                NodeKind::Join => "{\" \"}".to_string(),
            };
            let _ = writeln!(s, "    n{i}{shape}");
        }
        s.push_str("  end\n");
    }
    for e in &g.edges {
        match &e.label {
            Some(l) => {
                let _ = writeln!(s, "  n{} -->|\"{}\"| n{}", e.from, label(l), e.to);
            }
            None => {
                let _ = writeln!(s, "  n{} --> n{}", e.from, e.to);
            }
        }
    }
    s
}
