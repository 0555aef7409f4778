//! The regulations' SFE diagrams (схемы функционального взаимодействия), drawn from the
//! regulation files: one horizontal lane per structural-functional unit (the citizen,
//! the portal, ШЭП/РШЭП, ИС МИО and its employees, ИС ЦОН and its operators, ГБД ФЛ,
//! ЕНИС, УЦ), processes as boxes with their deadlines, conditions as diamonds with their
//! yes/no ways out, the handoff into the provider's procedure and the legs after it.
//!
//! [`graph`] builds the diagram from the file, [`layout`] places it, and three renderers
//! draw the same thing: [`svg`] (laid out by the project), [`bpmn`] (BPMN 2.0 with
//! diagram interchange, for Camunda Modeler and bpmn.io) and [`mermaid`].
//!
//! ```
//! let dir = egov_regulation::shipped_dir();
//! let reg = egov_regulation::load_file(&dir.join("almaty-2013-housing-queue.toml")).unwrap();
//! let svg = egov_diagram::draw(&reg, "con", "ru", egov_diagram::Format::Svg).unwrap();
//! assert!(svg.contains(r#"data-step="con-receive""#));
//! let bpmn = egov_diagram::draw(&reg, "procedure", "kk", egov_diagram::Format::Bpmn).unwrap();
//! assert!(bpmn.contains("<bpmn:collaboration"));
//! ```

pub mod bpmn;
pub mod graph;
pub mod journey;
pub mod layout;
pub mod mermaid;
pub mod svg;
mod text;
pub mod words;

use egov_regulation::Regulation;

pub use graph::{Error, Graph};

/// The name of the procedure's own diagram where a channel id is expected.
pub const PROCEDURE: &str = "procedure";

/// The languages diagrams are drawn in.
pub const LANGUAGES: [&str; 2] = ["ru", "kk"];

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SVG laid out by the project.
    Svg,
    /// BPMN 2.0 XML with diagram interchange.
    Bpmn,
    /// Mermaid flowchart text.
    Mermaid,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Svg, Format::Bpmn, Format::Mermaid];

    /// Parses `svg`, `bpmn` or `mermaid`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "svg" => Some(Format::Svg),
            "bpmn" => Some(Format::Bpmn),
            "mermaid" => Some(Format::Mermaid),
            _ => None,
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Bpmn => "bpmn",
            Format::Mermaid => "mmd",
        }
    }
}

/// The graph of a channel's diagram, or of the procedure's with [`PROCEDURE`].
pub fn graph(reg: &Regulation, view: &str, lang: &str) -> Result<Graph, Error> {
    if view == PROCEDURE {
        graph::procedure(reg, lang)
    } else {
        graph::channel(reg, view, lang)
    }
}

/// Renders a graph.
pub fn render(g: &Graph, target: &str, format: Format) -> String {
    match format {
        Format::Svg => svg::render(g, &layout::layout(g)),
        Format::Bpmn => bpmn::render(g, &layout::layout(g), target),
        Format::Mermaid => mermaid::render(g),
    }
}

/// The diagram of a channel (or of the procedure, with [`PROCEDURE`]) of `reg`.
pub fn draw(reg: &Regulation, view: &str, lang: &str, format: Format) -> Result<String, Error> {
    Ok(render(&graph(reg, view, lang)?, &reg.id, format))
}

/// Every diagram of `reg`: each channel and the procedure, in each language and format,
/// as (file name, content). The names are `<file stem>.<view>.<lang>.<ext>`.
pub fn all(reg: &Regulation) -> Result<Vec<(String, String)>, Error> {
    let stem = std::path::Path::new(&reg.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(&reg.id)
        .to_string();
    let mut views: Vec<String> = reg.channels.iter().map(|c| c.id.clone()).collect();
    views.push(PROCEDURE.to_string());
    let mut out = Vec::new();
    for view in &views {
        for lang in LANGUAGES {
            let g = graph(reg, view, lang)?;
            for format in Format::ALL {
                out.push((
                    format!("{stem}.{view}.{lang}.{}", format.extension()),
                    render(&g, &reg.id, format),
                ));
            }
        }
    }
    Ok(out)
}
