//! Where everything goes: lanes as horizontal bands, nodes in columns (a node's column
//! comes after every node leading to it, and no two nodes of a lane share one), and
//! orthogonal arrows that run in the gaps between columns and in each lane's margins, so
//! that no arrow crosses a box. The SVG and the BPMN's diagram interchange use the same
//! coordinates.

use crate::graph::{Graph, NodeKind};

/// Height of the title block above the lanes.
pub const TITLE_H: f64 = 60.0;
/// Width of the lanes' name column.
pub const HEADER_W: f64 = 150.0;
/// Height of a lane.
pub const LANE_H: f64 = 150.0;
/// Room between two columns (where the arrows turn).
pub const GAP: f64 = 56.0;
/// Margin right and below.
pub const MARGIN: f64 = 16.0;
/// A process box.
pub const TASK: (f64, f64) = (150.0, 72.0);
/// A diamond.
pub const DECISION: f64 = 44.0;
/// A join.
pub const JOIN: f64 = 28.0;
/// A start or end event.
pub const EVENT: f64 = 30.0;
/// A decision's column is at least this wide, for its label.
pub const DECISION_COL: f64 = 150.0;
/// Where a node's middle sits below its lane's top.
pub const NODE_Y: f64 = 64.0;

/// A rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// The middle, horizontally.
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    /// The middle, vertically.
    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    /// The right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// The bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

/// Where an arrow's label goes and how it is anchored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelAt {
    /// Left of the text.
    pub x: f64,
    /// Baseline of the first line.
    pub y: f64,
}

/// An arrow's way: points joined by horizontal and vertical segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The points, the first on the source's border, the last on the target's.
    pub points: Vec<(f64, f64)>,
    /// Where its label goes.
    pub label: LabelAt,
}

/// The whole layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Canvas width.
    pub width: f64,
    /// Canvas height.
    pub height: f64,
    /// The lanes' bands (the name column included).
    pub lanes: Vec<Rect>,
    /// Each node's box.
    pub nodes: Vec<Rect>,
    /// Each node's column.
    pub columns: Vec<usize>,
    /// Each edge's way.
    pub routes: Vec<Route>,
}

fn size(kind: NodeKind) -> (f64, f64) {
    match kind {
        NodeKind::Task | NodeKind::Procedure => TASK,
        NodeKind::Decision => (DECISION, DECISION),
        NodeKind::Join => (JOIN, JOIN),
        NodeKind::Start | NodeKind::End => (EVENT, EVENT),
    }
}

/// The edges that lead back (to a node on the current path of a depth-first walk from
/// the start): they are routed around, and ignored when ordering columns.
fn back_edges(g: &Graph) -> Vec<bool> {
    let n = g.nodes.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in g.edges.iter().enumerate() {
        out[e.from].push(i);
    }
    let mut state = vec![0u8; n];
    let mut back = vec![false; g.edges.len()];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if *k < out[v].len() {
                let ei = out[v][*k];
                *k += 1;
                let t = g.edges[ei].to;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    1 => back[ei] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    back
}

fn columns(g: &Graph, back: &[bool]) -> Vec<usize> {
    let n = g.nodes.len();
    let mut indeg = vec![0usize; n];
    for (i, e) in g.edges.iter().enumerate() {
        if !back[i] {
            indeg[e.to] += 1;
        }
    }
    let mut col = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut occupied: std::collections::HashSet<(usize, usize)> = Default::default();
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    while let Some(v) = ready.pop_first() {
        let mut c = g
            .edges
            .iter()
            .enumerate()
            .filter(|(i, e)| !back[*i] && e.to == v && placed[e.from])
            .map(|(_, e)| col[e.from] + 1)
            .max()
            .unwrap_or(0);
        while occupied.contains(&(g.nodes[v].lane, c)) {
            c += 1;
        }
        occupied.insert((g.nodes[v].lane, c));
        col[v] = c;
        placed[v] = true;
        for (i, e) in g.edges.iter().enumerate() {
            if !back[i] && e.from == v {
                indeg[e.to] -= 1;
                if indeg[e.to] == 0 {
                    ready.insert(e.to);
                }
            }
        }
    }
    col
}

/// Which side of a node an arrow leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Right,
    Bottom,
    Top,
}

/// Lays `g` out.
pub fn layout(g: &Graph) -> Layout {
    let back = back_edges(g);
    let cols = columns(g, &back);
    let ncols = cols.iter().copied().max().map_or(1, |m| m + 1);
    let mut col_w = vec![DECISION; ncols];
    for (i, n) in g.nodes.iter().enumerate() {
        let (w, _) = size(n.kind);
        let w = if n.kind == NodeKind::Decision {
            DECISION_COL
        } else {
            w
        };
        col_w[cols[i]] = col_w[cols[i]].max(w);
    }
    let mut col_x = Vec::with_capacity(ncols);
    let mut x = HEADER_W + GAP / 2.0;
    for w in &col_w {
        col_x.push(x);
        x += w + GAP;
    }
    let width = x - GAP / 2.0 + MARGIN;
    let lanes: Vec<Rect> = (0..g.lanes.len())
        .map(|i| Rect {
            x: 0.0,
            y: TITLE_H + i as f64 * LANE_H,
            w: width - MARGIN,
            h: LANE_H,
        })
        .collect();
    let height = TITLE_H + g.lanes.len() as f64 * LANE_H + MARGIN;
    let nodes: Vec<Rect> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (w, h) = size(n.kind);
            let c = cols[i];
            // a diamond keeps the room right of it for the labels of its ways out
            let x = if n.kind == NodeKind::Decision {
                col_x[c] + 8.0
            } else {
                col_x[c] + (col_w[c] - w) / 2.0
            };
            Rect {
                x,
                y: lanes[n.lane].y + NODE_Y - h / 2.0,
                w,
                h,
            }
        })
        .collect();

    let occupied = |lane: usize, c: usize| {
        g.nodes
            .iter()
            .enumerate()
            .any(|(i, n)| n.lane == lane && cols[i] == c)
    };
    let free_between = |lane: usize, a: usize, b: usize| ((a + 1)..b).all(|c| !occupied(lane, c));
    let mut gap_uses = vec![0usize; ncols + 1];
    let mut gap_x = |g_ix: usize| {
        // gap g_ix lies before column g_ix; spread the arrows that share it
        let base = if g_ix < ncols {
            col_x[g_ix] - GAP / 2.0
        } else {
            col_x[ncols - 1] + col_w[ncols - 1] + GAP / 2.0
        };
        let k = gap_uses[g_ix];
        gap_uses[g_ix] += 1;
        base + ((k % 5) as f64 - 2.0) * 5.0
    };
    let mut bottom_uses = vec![0usize; g.lanes.len()];
    let mut top_uses = vec![0usize; g.lanes.len()];

    // the ports of each decision's ways out
    let mut ports = vec![Port::Right; g.edges.len()];
    for (v, n) in g.nodes.iter().enumerate() {
        if n.kind != NodeKind::Decision {
            continue;
        }
        let outs: Vec<usize> = (0..g.edges.len())
            .filter(|&i| g.edges[i].from == v)
            .collect();
        let lane_of = |i: usize| g.nodes[g.edges[i].to].lane;
        let right = outs
            .iter()
            .copied()
            .find(|&i| lane_of(i) == n.lane && !back[i])
            .or_else(|| outs.first().copied());
        let mut used_bottom = false;
        for &i in &outs {
            if Some(i) == right {
                continue;
            }
            ports[i] = if lane_of(i) < n.lane || (lane_of(i) == n.lane && used_bottom) {
                Port::Top
            } else {
                used_bottom = true;
                Port::Bottom
            };
        }
    }

    let mut routes = Vec::with_capacity(g.edges.len());
    for (i, e) in g.edges.iter().enumerate() {
        let (s, t) = (nodes[e.from], nodes[e.to]);
        let (sc, tc) = (cols[e.from], cols[e.to]);
        let (sl, tl) = (g.nodes[e.from].lane, g.nodes[e.to].lane);
        let end = (t.x, t.cy());
        let forward = tc > sc;
        let mut pts: Vec<(f64, f64)>;
        let label;
        match ports[i] {
            Port::Right => {
                let p0 = (s.right(), s.cy());
                label = LabelAt {
                    x: p0.0 + 3.0,
                    y: p0.1 - 5.0,
                };
                pts = vec![p0];
                if forward && sl == tl && free_between(sl, sc, tc) {
                    // straight along the lane
                } else if forward && free_between(sl, sc, tc) {
                    let gx = gap_x(tc);
                    pts.extend([(gx, p0.1), (gx, end.1)]);
                } else if forward && free_between(tl, sc, tc) {
                    let gx = gap_x(sc + 1);
                    pts.extend([(gx, p0.1), (gx, end.1)]);
                } else {
                    let k = bottom_uses[sl];
                    bottom_uses[sl] += 1;
                    let yc = lanes[sl].bottom() - 5.0 - 5.0 * (k % 4) as f64;
                    let ga = gap_x(sc + 1);
                    let gb = gap_x(tc);
                    pts.extend([(ga, p0.1), (ga, yc), (gb, yc), (gb, end.1)]);
                }
            }
            Port::Bottom | Port::Top => {
                let bottom = ports[i] == Port::Bottom;
                let p0 = if bottom {
                    (s.cx(), s.bottom())
                } else {
                    (s.cx(), s.y)
                };
                label = LabelAt {
                    x: p0.0 + 4.0,
                    y: if bottom { p0.1 + 12.0 } else { p0.1 - 5.0 },
                };
                let yc = if bottom {
                    let k = bottom_uses[sl];
                    bottom_uses[sl] += 1;
                    lanes[sl].bottom() - 5.0 - 5.0 * (k % 4) as f64
                } else {
                    let k = top_uses[sl];
                    top_uses[sl] += 1;
                    lanes[sl].y + 5.0 + 5.0 * (k % 4) as f64
                };
                let gb = gap_x(tc);
                pts = vec![p0, (p0.0, yc), (gb, yc), (gb, end.1)];
            }
        }
        pts.push(end);
        routes.push(Route {
            points: simplify(pts),
            label,
        });
    }

    Layout {
        width,
        height,
        lanes,
        nodes,
        columns: cols,
        routes,
    }
}

/// Drops repeated points and the middle of three in a line.
fn simplify(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for p in pts {
        if out
            .last()
            .is_some_and(|q| (q.0 - p.0).abs() < 0.01 && (q.1 - p.1).abs() < 0.01)
        {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let same_x = (a.0 - b.0).abs() < 0.01 && (b.0 - p.0).abs() < 0.01;
            let same_y = (a.1 - b.1).abs() < 0.01 && (b.1 - p.1).abs() < 0.01;
            if same_x || same_y {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}
