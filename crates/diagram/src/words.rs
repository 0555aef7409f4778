//! The few words a diagram writes itself, in Russian and Kazakh.

/// Words of one language.
#[derive(Debug)]
pub struct Words {
    /// The start event.
    pub start: &'static str,
    /// An end event.
    pub end: &'static str,
    /// A condition holds.
    pub yes: &'static str,
    /// A condition fails.
    pub no: &'static str,
    /// A diamond without a named condition.
    pub choice: &'static str,
    /// The procedure's box in a channel's diagram.
    pub procedure: &'static str,
    /// The procedure's own diagram.
    pub procedure_title: &'static str,
    /// «Channel».
    pub channel: &'static str,
    /// «Deadline».
    pub deadline: &'static str,
    /// A timer that fired: the step outlived its deadline.
    pub overdue: &'static str,
    /// The lanes' heading.
    pub lanes: &'static str,
    /// A lane the regulation names without an action in it.
    pub idle: &'static str,
}

/// Russian.
pub const RU: Words = Words {
    start: "Начало",
    end: "Конец",
    yes: "да",
    no: "нет",
    choice: "решение",
    procedure: "Процедура услугодателя (ИС МИО)",
    procedure_title: "Процедура услугодателя",
    channel: "Канал",
    deadline: "срок",
    overdue: "срок истек",
    lanes: "СФЕ",
    idle: "СФЕ названа в регламенте, действий в ней регламент не описывает",
};

/// Kazakh.
pub const KK: Words = Words {
    start: "Басы",
    end: "Соңы",
    yes: "иә",
    no: "жоқ",
    choice: "шешім",
    procedure: "Көрсетілетін қызметті берушінің рәсімі (ЖАО АЖ)",
    procedure_title: "Көрсетілетін қызметті берушінің рәсімі",
    channel: "Арна",
    deadline: "мерзім",
    overdue: "мерзімі өтті",
    lanes: "ҚФБ",
    idle: "ҚФБ регламентте аталған, онда әрекеттер сипатталмаған",
};

impl Words {
    /// The words of `lang` (`kk`, else Russian).
    pub fn of(lang: &str) -> &'static Words {
        if lang == "kk" { &KK } else { &RU }
    }
}
