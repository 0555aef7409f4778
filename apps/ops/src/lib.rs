//! The operators' view across services. An operator holds what no single service may
//! read in full: the message log of every gateway and each ИС МИО's own history; this
//! library joins them, read-only, on the ops page ([`page`]): the message log's search and
//! an application's two diagrams. The journey of one application is put together by
//! ИС МИО's [`journey`] (its АРМ shows the same to its employees, from its own РШЭП's log).

pub mod page;

pub use egov_mio_is::journey;
pub use page::{Config, OpsPage};
