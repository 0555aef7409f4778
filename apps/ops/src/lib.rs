//! The operators' view across services. An operator holds what no single service may
//! read: the gateways' message log and each ИС МИО's own history; this library joins
//! them, read-only, for one application (`egovctl journey`, and the ops page to come).

pub mod journey;
