//! Regulations (регламенты) as data.
//!
//! Each regional regulation is a TOML file (`regulations/`, format in
//! `docs/regulation-format.md`): the service, the providers, the channels with their
//! steps, the provider's procedure (every step with its lane, actor, kind, deadline and
//! next step or outcomes), the conditions, the required documents, the refusal grounds and
//! the result documents, with every text in Russian and Kazakh.
//!
//! [`load_file`] / [`load_dir`] parse and validate: unknown keys, missing keys, duplicate
//! ids, references to unknown steps, roles, lanes, results, conditions or categories,
//! unreachable steps, cycles without exit, missing or unparsable deadlines, actors that do
//! not fit the kind of step, texts with only one language. Every [`Problem`] names the
//! file, the line and what is wrong (`file:line: problem`).

mod load;
mod model;
mod show;
pub mod survey;

pub use egov_calendar::Deadline;
pub use load::{Problem, Problems, load_dir, load_file, load_files, parse};
pub use model::*;
pub use show::{show, words as deadline_words};

/// The folder of the shipped regulations (`regulations/` at the repository root).
pub fn shipped_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../regulations")
}
