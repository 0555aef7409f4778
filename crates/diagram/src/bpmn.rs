//! BPMN 2.0 XML with diagram interchange: one pool whose lanes are the СФЕ, user and
//! service tasks for the processes, exclusive gateways for the conditions (each way out
//! with its condition), a call activity for the provider's procedure in a channel's
//! diagram, and for every deadline a non-interrupting timer on the task's border that
//! leads to an escalation end («срок истек»): the overdue flag ИС МИО raises. Opens in
//! Camunda Modeler and bpmn.io; `bpmnlint`'s recommended rules find nothing wrong.

use std::fmt::Write as _;

use egov_calendar::Deadline;

use crate::graph::{Graph, NodeKind};
use crate::layout::{Layout, Rect};
use crate::text::esc;
use crate::words::Words;

/// The ISO 8601 duration of a deadline. Working days have none: they are written as
/// days, and the timer's documentation says they are working days.
pub fn iso_duration(d: Deadline) -> String {
    match d {
        Deadline::Seconds(n) => format!("PT{n}S"),
        Deadline::Minutes(n) => format!("PT{n}M"),
        Deadline::Hours(n) => format!("PT{n}H"),
        Deadline::WorkingDays(n) | Deadline::CalendarDays(n) => format!("P{n}D"),
        Deadline::Months(n) => format!("P{n}M"),
    }
}

fn node_id(g: &Graph, i: usize) -> String {
    format!("Node_{}", ncname(&g.nodes[i].key))
}

/// Makes `s` a valid XML NCName tail (letters, digits, `-`, `_`, `.`).
fn ncname(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

const POOL_LABEL: f64 = 30.0;
const TIMER: f64 = 28.0;
const OVERDUE: f64 = 24.0;

fn timer_bounds(r: Rect) -> Rect {
    Rect {
        x: r.right() - 30.0 - TIMER / 2.0,
        y: r.bottom() - TIMER / 2.0,
        w: TIMER,
        h: TIMER,
    }
}

fn overdue_bounds(r: Rect) -> Rect {
    let t = timer_bounds(r);
    Rect {
        x: t.cx() - OVERDUE / 2.0,
        y: t.bottom() + 6.0,
        w: OVERDUE,
        h: OVERDUE,
    }
}

/// Renders `g` laid out as `l`; `target` names the regulation (the namespace).
pub fn render(g: &Graph, l: &Layout, target: &str) -> String {
    let w = Words::of(&g.lang);
    let key = ncname(&g.key);
    let mut x = String::new();
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    x.push('\n');
    let _ = writeln!(
        x,
        r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_{key}" targetNamespace="urn:egov:regulation:{}" exporter="egov-diagram" exporterVersion="{}">"#,
        esc(&ncname(target)),
        env!("CARGO_PKG_VERSION")
    );
    let timers = g
        .nodes
        .iter()
        .any(|n| n.deadline.is_some() && n.kind == NodeKind::Task);
    if timers {
        let _ = writeln!(
            x,
            r#"  <bpmn:escalation id="Escalation_overdue" name="{}" escalationCode="OVERDUE" />"#,
            esc(w.overdue)
        );
    }
    let _ = writeln!(
        x,
        r#"  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name="{}" processRef="Process_{key}" />
  </bpmn:collaboration>"#,
        esc(&g.title)
    );
    let _ = writeln!(
        x,
        r#"  <bpmn:process id="Process_{key}" name="{}" isExecutable="false">"#,
        esc(&g.title)
    );
    let _ = writeln!(
        x,
        r#"    <bpmn:documentation>{}</bpmn:documentation>"#,
        esc(&g.subtitle)
    );

    // lanes and the nodes in them (timers and overdue ends with their task)
    let _ = writeln!(x, r#"    <bpmn:laneSet id="LaneSet_{key}">"#);
    for (li, lane) in g.lanes.iter().enumerate() {
        let _ = writeln!(
            x,
            r#"      <bpmn:lane id="Lane_{li}" name="{}">"#,
            esc(&lane.name)
        );
        for (i, n) in g.nodes.iter().enumerate().filter(|(_, n)| n.lane == li) {
            let id = node_id(g, i);
            let _ = writeln!(x, "        <bpmn:flowNodeRef>{id}</bpmn:flowNodeRef>");
            if n.deadline.is_some() && n.kind == NodeKind::Task {
                let _ = writeln!(
                    x,
                    "        <bpmn:flowNodeRef>Timer_{id}</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>Overdue_{id}</bpmn:flowNodeRef>"
                );
            }
        }
        let _ = writeln!(x, "      </bpmn:lane>");
    }
    let _ = writeln!(x, "    </bpmn:laneSet>");

    let flow_id = |i: usize| format!("Flow_{key}_{i}");
    for (i, n) in g.nodes.iter().enumerate() {
        let id = node_id(g, i);
        let tag = match n.kind {
            NodeKind::Start => "startEvent",
            NodeKind::End => "endEvent",
            NodeKind::Task if n.automatic => "serviceTask",
            NodeKind::Task => "userTask",
            NodeKind::Decision | NodeKind::Join => "exclusiveGateway",
            NodeKind::Procedure => "callActivity",
        };
        let mut attrs = format!(r#" id="{id}""#);
        if !n.label.is_empty() {
            let mut name = n.label.clone();
            // a task's deadline is its timer's name; the procedure has no timer
            if let (Some(d), NodeKind::Procedure) = (&n.deadline_label, n.kind) {
                name = format!("{name} ({}: {d})", w.deadline);
            }
            let _ = write!(attrs, r#" name="{}""#, esc(&name));
        }
        if n.kind == NodeKind::Procedure {
            attrs.push_str(r#" calledElement="Process_procedure""#);
        }
        let _ = writeln!(x, "    <bpmn:{tag}{attrs}>");
        let mut doc = n.detail.clone();
        if let Some(sys) = &n.system {
            doc = format!("{doc} [{sys}]");
        }
        if !doc.trim().is_empty() {
            let _ = writeln!(
                x,
                "      <bpmn:documentation>{}</bpmn:documentation>",
                esc(doc.trim())
            );
        }
        for (ei, _) in g.edges.iter().enumerate().filter(|(_, e)| e.to == i) {
            let _ = writeln!(x, "      <bpmn:incoming>{}</bpmn:incoming>", flow_id(ei));
        }
        for (ei, _) in g.edges.iter().enumerate().filter(|(_, e)| e.from == i) {
            let _ = writeln!(x, "      <bpmn:outgoing>{}</bpmn:outgoing>", flow_id(ei));
        }
        let _ = writeln!(x, "    </bpmn:{tag}>");
        if let (Some(d), NodeKind::Task) = (n.deadline, n.kind) {
            let label = n.deadline_label.clone().unwrap_or_else(|| d.to_string());
            let working = if matches!(d, Deadline::WorkingDays(_)) {
                format!(
                    "\n      <bpmn:documentation>{}</bpmn:documentation>",
                    esc(&format!("{d} (working days of the production calendar)"))
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                x,
                r#"    <bpmn:boundaryEvent id="Timer_{id}" name="{}" cancelActivity="false" attachedToRef="{id}">{working}
      <bpmn:outgoing>Flow_overdue_{id}</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerDefinition_{id}">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="Overdue_{id}" name="{}">
      <bpmn:incoming>Flow_overdue_{id}</bpmn:incoming>
      <bpmn:escalationEventDefinition id="EscalationDefinition_{id}" escalationRef="Escalation_overdue" />
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_overdue_{id}" sourceRef="Timer_{id}" targetRef="Overdue_{id}" />"#,
                esc(&label),
                iso_duration(d),
                esc(w.overdue)
            );
        }
    }
    for (ei, e) in g.edges.iter().enumerate() {
        let mut attrs = format!(
            r#" id="{}" sourceRef="{}" targetRef="{}""#,
            flow_id(ei),
            node_id(g, e.from),
            node_id(g, e.to)
        );
        if let Some(label) = &e.label {
            let _ = write!(attrs, r#" name="{}""#, esc(label));
        }
        match &e.when {
            Some(when) => {
                let _ = writeln!(
                    x,
                    r#"    <bpmn:sequenceFlow{attrs}>
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"#,
                    esc(&format!("outcome = '{when}'"))
                );
            }
            None => {
                let _ = writeln!(x, "    <bpmn:sequenceFlow{attrs} />");
            }
        }
    }
    let _ = writeln!(x, "  </bpmn:process>");

    // diagram interchange
    let _ = writeln!(
        x,
        r#"  <bpmndi:BPMNDiagram id="BPMNDiagram_{key}">
    <bpmndi:BPMNPlane id="BPMNPlane_{key}" bpmnElement="Collaboration_{key}">"#
    );
    let pool = Rect {
        x: 0.0,
        y: l.lanes.first().map_or(0.0, |r| r.y),
        w: l.lanes.first().map_or(l.width, |r| r.w),
        h: l.lanes.iter().map(|r| r.h).sum(),
    };
    shape(
        &mut x,
        &format!("Participant_{key}"),
        pool,
        r#" isHorizontal="true""#,
    );
    for (li, r) in l.lanes.iter().enumerate() {
        let lane = Rect {
            x: r.x + POOL_LABEL,
            y: r.y,
            w: r.w - POOL_LABEL,
            h: r.h,
        };
        shape(
            &mut x,
            &format!("Lane_{li}"),
            lane,
            r#" isHorizontal="true""#,
        );
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let id = node_id(g, i);
        let r = l.nodes[i];
        let extra = match n.kind {
            NodeKind::Decision | NodeKind::Join => r#" isMarkerVisible="true""#,
            _ => "",
        };
        shape(&mut x, &id, r, extra);
        if n.deadline.is_some() && n.kind == NodeKind::Task {
            shape(&mut x, &format!("Timer_{id}"), timer_bounds(r), "");
            shape(&mut x, &format!("Overdue_{id}"), overdue_bounds(r), "");
            let (t, o) = (timer_bounds(r), overdue_bounds(r));
            edge(
                &mut x,
                &format!("Flow_overdue_{id}"),
                &[(t.cx(), t.bottom()), (o.cx(), o.y)],
            );
        }
    }
    for (ei, _) in g.edges.iter().enumerate() {
        edge(&mut x, &flow_id(ei), &l.routes[ei].points);
    }
    let _ = writeln!(
        x,
        "    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>\n</bpmn:definitions>"
    );
    x
}

fn shape(x: &mut String, element: &str, r: Rect, extra: &str) {
    let _ = writeln!(
        x,
        r#"      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"{extra}>
        <dc:Bounds x="{:.0}" y="{:.0}" width="{:.0}" height="{:.0}" />
      </bpmndi:BPMNShape>"#,
        r.x, r.y, r.w, r.h
    );
}

fn edge(x: &mut String, element: &str, points: &[(f64, f64)]) {
    let _ = writeln!(
        x,
        r#"      <bpmndi:BPMNEdge id="{element}_di" bpmnElement="{element}">"#
    );
    for (px, py) in points {
        let _ = writeln!(x, r#"        <di:waypoint x="{px:.0}" y="{py:.0}" />"#);
    }
    let _ = writeln!(x, "      </bpmndi:BPMNEdge>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_as_iso_durations() {
        assert_eq!(iso_duration(Deadline::Minutes(15)), "PT15M");
        assert_eq!(iso_duration(Deadline::Seconds(90)), "PT90S");
        assert_eq!(iso_duration(Deadline::WorkingDays(3)), "P3D");
        assert_eq!(iso_duration(Deadline::CalendarDays(30)), "P30D");
        assert_eq!(iso_duration(Deadline::Months(1)), "P1M");
        assert_eq!(iso_duration(Deadline::Hours(8)), "PT8H");
        assert_eq!(ncname("s-con receive"), "s-con_receive");
    }
}
