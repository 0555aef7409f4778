//! The web UI's languages: every word a page shows, in Russian and in Kazakh (one
//! struct, so a word missing in one language does not compile), and the one mapping
//! from an error code to its text on a page. The JSON API keeps its English messages.

pub use egov_pages::Lang;

/// The cookie that keeps the UI's language.
pub const COOKIE: &str = "arm_lang";

/// The words of a language.
pub trait Speak {
    /// The words of the language.
    fn words(self) -> &'static Words;
}

impl Speak for Lang {
    fn words(self) -> &'static Words {
        self.pick(&RU, &KK)
    }
}

/// Every word of the UI's pages in one language.
#[derive(Debug)]
pub struct Words {
    /// The workstation's name.
    pub app: &'static str,
    /// What the footer says.
    pub footer: &'static str,
    /// The language switch's label.
    pub language: &'static str,
    /// Navigation: the worklist.
    pub worklist: &'static str,
    /// Navigation: channel B.
    pub new_application: &'static str,
    /// Navigation: the commission.
    pub commission: &'static str,
    /// Navigation: the waiting list.
    pub queue: &'static str,
    /// Logout.
    pub logout: &'static str,
    /// The login page.
    pub login_title: &'static str,
    /// IIN.
    pub iin: &'static str,
    /// Password.
    pub password: &'static str,
    /// The login button.
    pub login: &'static str,
    /// A refused login.
    pub login_refused: &'static str,
    /// Too many failed logins; `{time}` is when the next attempt is checked.
    pub login_throttled: &'static str,
    /// An empty worklist.
    pub no_tasks: &'static str,
    /// Application.
    pub application: &'static str,
    /// An application's journey: its hops and steps beside the regulation's diagram.
    pub journey: &'static str,
    /// The message log is not connected.
    pub no_journal: &'static str,
    /// The regulation's diagram.
    pub journey_expected: &'static str,
    /// What happened.
    pub journey_actual: &'static str,
    /// The steps' table.
    pub journey_steps: &'static str,
    /// The hops' table.
    pub journey_hops: &'static str,
    /// Applicant.
    pub applicant: &'static str,
    /// Action.
    pub action: &'static str,
    /// Started (a task).
    pub started: &'static str,
    /// Due.
    pub due: &'static str,
    /// Past its deadline.
    pub overdue: &'static str,
    /// Number.
    pub number: &'static str,
    /// Service.
    pub service: &'static str,
    /// Category.
    pub category: &'static str,
    /// Channel.
    pub channel: &'static str,
    /// Status.
    pub status: &'static str,
    /// Registered.
    pub registered: &'static str,
    /// The service's deadline.
    pub service_due: &'static str,
    /// The number on the waiting list.
    pub queue_number: &'static str,
    /// Documents.
    pub documents: &'static str,
    /// A paper original.
    pub paper_original: &'static str,
    /// A scan.
    pub scan: &'static str,
    /// The steps taken.
    pub progress: &'static str,
    /// Step.
    pub step: &'static str,
    /// Started (a step).
    pub step_started: &'static str,
    /// Completed.
    pub completed: &'static str,
    /// By whom.
    pub by: &'static str,
    /// Decision.
    pub decision: &'static str,
    /// Note.
    pub note: &'static str,
    /// The result document.
    pub result: &'static str,
    /// Signed by.
    pub signed_by: &'static str,
    /// Not signed.
    pub not_signed: &'static str,
    /// A task's title.
    pub task: &'static str,
    /// Completing a task.
    pub completion: &'static str,
    /// The executor chosen.
    pub executor: &'static str,
    /// The documents checked (C-docs).
    pub documents_check: &'static str,
    /// Required.
    pub required: &'static str,
    /// Mark a document missing.
    pub mark_missing: &'static str,
    /// Refusal grounds.
    pub refusal_grounds: &'static str,
    /// The button that completes a task.
    pub complete: &'static str,
    /// A commission step.
    pub decided_by_commission: &'static str,
    /// The commission's agenda and protocol (a link).
    pub agenda_and_protocol: &'static str,
    /// A completed task.
    pub done: &'static str,
    /// The applicant's IIN.
    pub applicant_iin: &'static str,
    /// Ask ГБД ФЛ.
    pub lookup: &'static str,
    /// ГБД ФЛ.
    pub gbd_fl: &'static str,
    /// Phone.
    pub phone: &'static str,
    /// E-mail.
    pub email: &'static str,
    /// The address of residence.
    pub address: &'static str,
    /// The paper original is presented.
    pub original_presented: &'static str,
    /// Sign and register.
    pub sign_and_register: &'static str,
    /// Sent, not yet registered (title).
    pub sent_title: &'static str,
    /// Sent, not yet registered; `{id}` is the messageId.
    pub sent: &'static str,
    /// The commission's meetings.
    pub meetings: &'static str,
    /// Date.
    pub date: &'static str,
    /// Protocol.
    pub protocol: &'static str,
    /// The date of a meeting.
    pub meeting_date: &'static str,
    /// Schedule a meeting.
    pub schedule: &'static str,
    /// Waiting for the commission.
    pub waiting: &'static str,
    /// A meeting (title).
    pub meeting_title: &'static str,
    /// A meeting; `{number}`, `{date}`.
    pub meeting: &'static str,
    /// Protocol number.
    pub protocol_no: &'static str,
    /// Agenda and protocol (heading).
    pub agenda: &'static str,
    /// Amount.
    pub amount: &'static str,
    /// Record a decision.
    pub record: &'static str,
    /// Put on the agenda.
    pub add_to_agenda: &'static str,
    /// Close the protocol.
    pub close_protocol: &'static str,
    /// An error page's title.
    pub error: &'static str,
    /// Back.
    pub back: &'static str,
    /// Meeting statuses.
    pub meeting_open: &'static str,
    /// Meeting statuses.
    pub meeting_closed: &'static str,
    /// Waiting list statuses.
    pub queue_waiting: &'static str,
    /// Waiting list statuses.
    pub queue_housed: &'static str,
    /// Waiting list statuses.
    pub queue_removed: &'static str,
}

/// Russian.
pub static RU: Words = Words {
    app: "АРМ РШЭП",
    footer: "АРМ РШЭП — рабочее место сотрудника услугодателя",
    language: "Язык",
    worklist: "Рабочий список",
    new_application: "Новое заявление",
    commission: "Комиссия",
    queue: "Очередь",
    logout: "Выйти",
    login_title: "Вход",
    iin: "ИИН",
    password: "Пароль",
    login: "Войти",
    login_refused: "Неверный ИИН или пароль",
    login_throttled: "Слишком много неудачных попыток входа; повторите после {time}",
    no_tasks: "Задач нет.",
    application: "Заявление",
    journey: "Путь заявления",
    no_journal: "Журнал сообщений РШЭП не подключен: показаны только шаги",
    journey_expected: "По регламенту",
    journey_actual: "Как было",
    journey_steps: "Шаги",
    journey_hops: "Переходы через шлюзы",
    applicant: "Заявитель",
    action: "Действие",
    started: "Начато",
    due: "Срок",
    overdue: "просрочено",
    number: "Номер",
    service: "Услуга",
    category: "Категория",
    channel: "Канал",
    status: "Статус",
    registered: "Зарегистрировано",
    service_due: "Срок оказания",
    queue_number: "Номер в очереди",
    documents: "Документы",
    paper_original: "оригинал на бумаге",
    scan: "скан",
    progress: "Ход исполнения",
    step: "Шаг",
    step_started: "Начат",
    completed: "Завершен",
    by: "Кем",
    decision: "Решение",
    note: "Примечание",
    result: "Результат",
    signed_by: "подписано",
    not_signed: "не подписано",
    task: "Задача",
    completion: "Исполнение",
    executor: "Исполнитель",
    documents_check: "Документы (C-docs)",
    required: "обязательный",
    mark_missing: "отметить как отсутствующий",
    refusal_grounds: "Основания отказа",
    complete: "Исполнить",
    decided_by_commission: "Решение принимает комиссия",
    agenda_and_protocol: "повестка и протокол",
    done: "Исполнено",
    applicant_iin: "ИИН заявителя",
    lookup: "Запросить ГБД ФЛ",
    gbd_fl: "ГБД ФЛ",
    phone: "Телефон",
    email: "Эл. почта",
    address: "Адрес проживания",
    original_presented: "оригинал представлен",
    sign_and_register: "Подписать ЭЦП и зарегистрировать",
    sent_title: "Заявление отправлено",
    sent: "Отправлено (messageId {id}); регистрация ещё не подтверждена.",
    meetings: "Заседания",
    date: "Дата",
    protocol: "Протокол",
    meeting_date: "Дата заседания",
    schedule: "Назначить заседание",
    waiting: "Ожидают рассмотрения",
    meeting_title: "Заседание комиссии",
    meeting: "Заседание № {number} от {date}",
    protocol_no: "протокол №",
    agenda: "Повестка и протокол",
    amount: "сумма",
    record: "Записать",
    add_to_agenda: "Включить в повестку",
    close_protocol: "Закрыть протокол",
    error: "Ошибка",
    back: "Назад",
    meeting_open: "открыто",
    meeting_closed: "закрыто",
    queue_waiting: "в очереди",
    queue_housed: "обеспечен жильём",
    queue_removed: "снят с учёта",
};

/// Kazakh.
pub static KK: Words = Words {
    app: "ӨЭҮШ АЖО",
    footer: "ӨЭҮШ АЖО — көрсетілетін қызметті беруші қызметкерінің жұмыс орны",
    language: "Тіл",
    worklist: "Жұмыс тізімі",
    new_application: "Жаңа өтініш",
    commission: "Комиссия",
    queue: "Кезек",
    logout: "Шығу",
    login_title: "Жүйеге кіру",
    iin: "ЖСН",
    password: "Құпиясөз",
    login: "Кіру",
    login_refused: "ЖСН немесе құпиясөз қате",
    login_throttled: "Сәтсіз кіру әрекеттері тым көп; {time} кейін қайталаңыз",
    no_tasks: "Тапсырмалар жоқ.",
    application: "Өтініш",
    journey: "Өтініштің жолы",
    no_journal: "РШЭП хабарламалар журналы қосылмаған: тек қадамдар көрсетілген",
    journey_expected: "Регламент бойынша",
    journey_actual: "Қалай болды",
    journey_steps: "Қадамдар",
    journey_hops: "Шлюздар арқылы өтулер",
    applicant: "Өтініш беруші",
    action: "Әрекет",
    started: "Басталды",
    due: "Мерзімі",
    overdue: "мерзімі өтті",
    number: "Нөмірі",
    service: "Қызмет",
    category: "Санаты",
    channel: "Арна",
    status: "Мәртебесі",
    registered: "Тіркелді",
    service_due: "Көрсету мерзімі",
    queue_number: "Кезектегі нөмірі",
    documents: "Құжаттар",
    paper_original: "қағаз түріндегі түпнұсқа",
    scan: "скан-көшірме",
    progress: "Орындалу барысы",
    step: "Қадам",
    step_started: "Басталды",
    completed: "Аяқталды",
    by: "Кім",
    decision: "Шешім",
    note: "Ескертпе",
    result: "Нәтиже",
    signed_by: "қол қойған",
    not_signed: "қол қойылмаған",
    task: "Тапсырма",
    completion: "Орындау",
    executor: "Орындаушы",
    documents_check: "Құжаттар (C-docs)",
    required: "міндетті",
    mark_missing: "жоқ деп белгілеу",
    refusal_grounds: "Бас тарту негіздері",
    complete: "Орындалды деп белгілеу",
    decided_by_commission: "Шешімді комиссия қабылдайды",
    agenda_and_protocol: "күн тәртібі және хаттама",
    done: "Орындалды",
    applicant_iin: "Өтініш берушінің ЖСН",
    lookup: "ЖТ МДҚ-дан сұрау",
    gbd_fl: "ЖТ МДҚ",
    phone: "Телефон",
    email: "Эл. пошта",
    address: "Тұратын мекенжайы",
    original_presented: "түпнұсқасы ұсынылды",
    sign_and_register: "ЭЦҚ-мен қол қойып, тіркеу",
    sent_title: "Өтініш жіберілді",
    sent: "Жіберілді (messageId {id}); тіркелуі әлі расталған жоқ.",
    meetings: "Отырыстар",
    date: "Күні",
    protocol: "Хаттама",
    meeting_date: "Отырыс күні",
    schedule: "Отырыс тағайындау",
    waiting: "Қарауды күтуде",
    meeting_title: "Комиссия отырысы",
    meeting: "{date} күнгі № {number} отырыс",
    protocol_no: "хаттама №",
    agenda: "Күн тәртібі және хаттама",
    amount: "сомасы",
    record: "Жазу",
    add_to_agenda: "Күн тәртібіне енгізу",
    close_protocol: "Хаттаманы жабу",
    error: "Қате",
    back: "Артқа",
    meeting_open: "ашық",
    meeting_closed: "жабық",
    queue_waiting: "кезекте",
    queue_housed: "тұрғын үймен қамтамасыз етілді",
    queue_removed: "есептен шығарылды",
};

/// The text of an error code on a page of `lang`: the one mapping the UI uses wherever
/// it shows an error (the API's own messages stay English).
pub fn error_text(code: &str, lang: Lang) -> &'static str {
    let (ru, kk) = match code {
        "UNAUTHORIZED" => (
            "Войдите в систему (ИИН и пароль)",
            "Жүйеге кіріңіз (ЖСН және құпиясөз)",
        ),
        "BAD_REQUEST" => (
            "Запрос не удалось разобрать",
            "Сұрауды талдау мүмкін болмады",
        ),
        "NOT_FOUND" => ("Не найдено", "Табылмады"),
        "FORBIDDEN" => (
            "Действие недоступно: оно относится к другой роли или другому услугодателю",
            "Әрекет қолжетімсіз: ол басқа рөлге немесе басқа көрсетілетін қызметті берушіге жатады",
        ),
        "CONFLICT" => (
            "Действие уже выполнено или недопустимо в текущем состоянии",
            "Әрекет орындалып қойған немесе қазіргі күйде жол берілмейді",
        ),
        "INVALID" => (
            "Введённые данные недопустимы: проверьте форму",
            "Енгізілген деректер жарамсыз: нысанды тексеріңіз",
        ),
        "INTERNAL" => (
            "Внутренняя ошибка системы; повторите позже",
            "Жүйенің ішкі қатесі; кейінірек қайталаңыз",
        ),
        "UNKNOWN_REGULATION" => (
            "У услугодателя нет такого регламента",
            "Көрсетілетін қызметті берушіде мұндай регламент жоқ",
        ),
        "WRONG_CHANNEL" => (
            "Регламент не предусматривает подачу заявления через услугодателя",
            "Регламентте өтінішті көрсетілетін қызметті беруші арқылы беру көзделмеген",
        ),
        "GATEWAY_UNAVAILABLE" => (
            "Шлюз электронного правительства недоступен; повторите позже",
            "Электрондық үкімет шлюзі қолжетімсіз; кейінірек қайталаңыз",
        ),
        "GATEWAY_REFUSED" => (
            "Шлюз электронного правительства отклонил запрос",
            "Электрондық үкімет шлюзі сұрауды қабылдамады",
        ),
        "BAD_ANSWER" => (
            "Ответ ГБД ФЛ не удалось разобрать",
            "ЖТ МДҚ жауабын талдау мүмкін болмады",
        ),
        "PERSON_NOT_FOUND" => (
            "Лицо с таким ИИН не найдено в ГБД ФЛ",
            "Мұндай ЖСН бар тұлға ЖТ МДҚ-да табылмады",
        ),
        "IIN_CANCELLED" => ("ИИН аннулирован", "ЖСН жойылған"),
        "PERSON_DECEASED" => (
            "По данным ГБД ФЛ лицо умерло",
            "ЖТ МДҚ деректері бойынша тұлға қайтыс болған",
        ),
        "INVALID_IIN" => ("Неверный ИИН", "ЖСН қате"),
        "INVALID_REQUEST" => ("Неверный запрос к ГБД ФЛ", "ЖТ МДҚ-ға сұрау қате"),
        "MALFORMED" => (
            "Заявление повреждено или имеет неверный формат",
            "Өтініш бүлінген немесе пішімі қате",
        ),
        "SIGNATURE_NOT_CONFIRMED" => ("Подпись (ЭЦП) не подтверждена", "Қолтаңба (ЭЦҚ) расталмады"),
        "IIN_MISMATCH" => (
            "ИИН подписавшего не совпадает с ИИН заявителя или сотрудника",
            "Қол қоюшының ЖСН өтініш берушінің немесе қызметкердің ЖСН-мен сәйкес келмейді",
        ),
        "UNKNOWN_SERVICE" => (
            "Услугодатель не оказывает эту услугу",
            "Көрсетілетін қызметті беруші бұл қызметті көрсетпейді",
        ),
        "UNKNOWN_PROVIDER" => (
            "Неизвестный услугодатель",
            "Белгісіз көрсетілетін қызметті беруші",
        ),
        "INVALID_FORM" => (
            "Форма заявления заполнена неверно: проверьте обязательные поля, категорию и документы",
            "Өтініш нысаны қате толтырылған: міндетті өрістерді, санатты және құжаттарды тексеріңіз",
        ),
        "POA_NOT_CONFIRMED" => (
            "Доверенность не подтверждена ЕНИС",
            "Сенімхатты БНАЖ растамады",
        ),
        "UNKNOWN_EMPLOYEE" => (
            "Подписавший не является действующим сотрудником услугодателя",
            "Қол қоюшы көрсетілетін қызметті берушінің қолданыстағы қызметкері емес",
        ),
        "SIGN_ON_CLIENT" => (
            "Подпишите документ своим ключом ЭЦП (NCALayer): ключи сотрудников на сервере не хранятся",
            "Құжатқа өз ЭЦҚ кілтіңізбен (NCALayer) қол қойыңыз: қызметкерлердің кілттері серверде сақталмайды",
        ),
        "CSRF_TOKEN" => (
            "Форма устарела или отправлена не из АРМ: обновите страницу и повторите",
            "Нысан ескірген немесе АЖО-дан жіберілмеген: бетті жаңартып, қайталаңыз",
        ),
        "FOREIGN_ORIGIN" => (
            "Запрос отправлен с чужого сайта и отклонён",
            "Сұрау бөгде сайттан жіберілді және қабылданбады",
        ),
        "PERSON_NOT_IN_APPLICATIONS" => (
            "Сведения о лице доступны только по заявлениям вашего услугодателя",
            "Тұлға туралы мәліметтер тек сіздің көрсетілетін қызметті берушіңіздің өтініштері бойынша қолжетімді",
        ),
        _ => ("Запрос не выполнен", "Сұрау орындалмады"),
    };
    lang.pick(ru, kk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_texts() {
        for code in [
            "CONFLICT",
            "PERSON_NOT_FOUND",
            "WRONG_CHANNEL",
            "SIGN_ON_CLIENT",
            "CSRF_TOKEN",
            "FOREIGN_ORIGIN",
            "PERSON_NOT_IN_APPLICATIONS",
            "SOMETHING_NEW",
        ] {
            let (ru, kk) = (error_text(code, Lang::Ru), error_text(code, Lang::Kk));
            assert!(!ru.is_empty() && !kk.is_empty() && ru != kk, "{code}");
            assert!(
                !ru.is_ascii() && !kk.is_ascii(),
                "{code}: no English on a page"
            );
        }
    }
}
