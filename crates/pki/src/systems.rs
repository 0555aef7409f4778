//! The information systems of the architecture, each with its own test identity.
//!
//! `egovctl pki init` issues every system here a transport-signing certificate and a
//! mutual-TLS certificate. The BINs are made up for the test PKI.

/// One information system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct System {
    /// Stable id: the certificate CN, the DNS name in the TLS certificate, the senderId.
    pub id: &'static str,
    /// The lane name as the regulations write it.
    pub lane: &'static str,
    /// The organisation that runs it.
    pub organization: &'static str,
    /// Test BIN of the organisation.
    pub bin: &'static str,
}

/// Every information system of the architecture.
pub const SYSTEMS: &[System] = &[
    System {
        id: "uc",
        lane: "ИС УЦ",
        organization: "НУЦ РК (test)",
        bin: "000140000101",
    },
    System {
        id: "shep",
        lane: "ШЭП",
        organization: "Оператор ИКИ ЭП (test)",
        bin: "000140000102",
    },
    System {
        id: "rshep-almaty",
        lane: "РШЭП Алматы",
        organization: "Акимат города Алматы (test)",
        bin: "000140000103",
    },
    System {
        id: "rshep-atyrau",
        lane: "РШЭП Атырауской области",
        organization: "Акимат Атырауской области (test)",
        bin: "000140000104",
    },
    System {
        id: "rshep-nko",
        lane: "РШЭП Северо-Казахстанской области",
        organization: "Акимат Северо-Казахстанской области (test)",
        bin: "000140000105",
    },
    System {
        id: "gbd-fl",
        lane: "ГБД ФЛ",
        organization: "Министерство юстиции РК (test)",
        bin: "000140000106",
    },
    System {
        id: "enis",
        lane: "ЕНИС",
        organization: "Республиканская нотариальная палата (test)",
        bin: "000140000107",
    },
    System {
        id: "portal",
        lane: "ПЭП",
        organization: "Оператор ИКИ ЭП (test)",
        bin: "000140000108",
    },
    System {
        id: "con-is",
        lane: "ИС ЦОН",
        organization: "НАО «Государственная корпорация «Правительство для граждан» (test)",
        bin: "000140000109",
    },
    System {
        id: "mio-almaty",
        lane: "ИС МИО Алматы",
        organization: "Управление жилья и жилищной инспекции города Алматы (test)",
        bin: "000140000110",
    },
    System {
        id: "mio-atyrau",
        lane: "ИС МИО Атырауской области",
        organization: "Отдел жилищных отношений Атырауской области (test)",
        bin: "000140000111",
    },
    System {
        id: "mio-nko",
        lane: "ИС МИО Акжарского района",
        organization: "Отдел ЖКХ Акжарского района (test)",
        bin: "000140000112",
    },
];

/// Finds a system by id.
pub fn by_id(id: &str) -> Option<&'static System> {
    SYSTEMS.iter().find(|s| s.id == id)
}
