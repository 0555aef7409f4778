//! The pages' languages: every word АРМ ИС ЦОН's pages show, in Russian and in Kazakh
//! (one struct, so a word missing in one language does not compile). The errors come
//! with both texts already ([`crate::api::ApiError`]); the language of a request is
//! [`egov_pages::Lang`], kept in the cookie [`COOKIE`].

pub use egov_pages::Lang;

/// The cookie that keeps the pages' language.
pub const COOKIE: &str = "con_lang";

/// The words of `lang`.
pub fn words(lang: Lang) -> &'static Words {
    lang.pick(&RU, &KK)
}

/// Every word of the pages in one language.
#[derive(Debug)]
pub struct Words {
    /// The workstation.
    pub app: &'static str,
    /// The footer.
    pub footer: &'static str,
    /// «Язык».
    pub language: &'static str,
    /// The login page.
    pub login_title: &'static str,
    /// IIN.
    pub iin: &'static str,
    /// Password.
    pub password: &'static str,
    /// The login button.
    pub login: &'static str,
    /// The logout button.
    pub logout: &'static str,
    /// The centre's applications.
    pub applications: &'static str,
    /// A new application.
    pub new_application: &'static str,
    /// The service.
    pub service: &'static str,
    /// The citizen's IIN.
    pub citizen_iin: &'static str,
    /// The representative (fieldset).
    pub representative: &'static str,
    /// The representative's IIN.
    pub representative_iin: &'static str,
    /// The power of attorney's number.
    pub poa_number: &'static str,
    /// The button asking ГБД ФЛ and ЕНИС.
    pub ask_registries: &'static str,
    /// Number.
    pub number: &'static str,
    /// Applicant.
    pub applicant: &'static str,
    /// State.
    pub state: &'static str,
    /// Status.
    pub status: &'static str,
    /// No applications yet.
    pub none_yet: &'static str,
    /// Category.
    pub category: &'static str,
    /// Phone.
    pub phone: &'static str,
    /// E-mail.
    pub email: &'static str,
    /// Address.
    pub address: &'static str,
    /// The form's fields.
    pub form: &'static str,
    /// The documents.
    pub documents: &'static str,
    /// The paper original seen.
    pub paper: &'static str,
    /// The scan.
    pub scan: &'static str,
    /// Required.
    pub required: &'static str,
    /// The submit button.
    pub sign_and_send: &'static str,
    /// The signature note.
    pub sign_note: &'static str,
    /// The steps.
    pub steps: &'static str,
    /// Step.
    pub step: &'static str,
    /// Began.
    pub started: &'static str,
    /// Due.
    pub due: &'static str,
    /// Done.
    pub completed: &'static str,
    /// Late.
    pub overdue: &'static str,
    /// ИС МИО's statuses.
    pub statuses: &'static str,
    /// The receipt.
    pub receipt: &'static str,
    /// The result.
    pub result: &'static str,
    /// ИС МИО's number.
    pub mio_number: &'static str,
    /// The service is due.
    pub service_due: &'static str,
    /// The delivery to ИС МИО.
    pub delivery: &'static str,
    /// Delivered.
    pub delivered: &'static str,
    /// Queued.
    pub queued: &'static str,
    /// Refused by the gateway.
    pub gateway_refused: &'static str,
    /// Refusal of acceptance.
    pub refusal: &'static str,
    /// The error page.
    pub error: &'static str,
    /// Draft / refused / sent.
    pub state_draft: &'static str,
    /// Refused.
    pub state_refused: &'static str,
    /// Sent.
    pub state_sent: &'static str,
    /// Wrong login.
    pub login_refused: &'static str,
    /// Throttled login (`{time}`).
    pub login_throttled: &'static str,
    /// Yes.
    pub yes: &'static str,
    /// Registers.
    pub registers: &'static str,
    /// Waiting for a register.
    pub awaiting: &'static str,
    /// Form a register.
    pub form_register: &'static str,
    /// Formed.
    pub formed: &'static str,
    /// Handed over.
    pub handed_over: &'static str,
    /// Hand the register over.
    pub hand_over: &'static str,
    /// The scan page.
    pub scan_title: &'static str,
    /// The barcode as text.
    pub barcode_text: &'static str,
    /// The scanned image.
    pub barcode_image: &'static str,
    /// The scan button.
    pub scan_button: &'static str,
    /// The paper side.
    pub paper_side: &'static str,
    /// The result's state.
    pub result_state: &'static str,
    /// Pending / in transit / ready / issued / archived.
    pub result_pending: &'static str,
    /// In transit.
    pub result_in_transit: &'static str,
    /// Ready.
    pub result_ready: &'static str,
    /// Issued.
    pub result_issued: &'static str,
    /// Archived.
    pub result_archived: &'static str,
    /// The cover.
    pub cover: &'static str,
    /// The courier's return.
    pub return_result: &'static str,
    /// Issue.
    pub issue: &'static str,
    /// The recipient's IIN.
    pub recipient_iin: &'static str,
    /// The survey.
    pub survey: &'static str,
    /// Scanned.
    pub scanned: &'static str,
    /// The register (a row's heading).
    pub register_label: &'static str,
    /// Returned (a row's heading).
    pub returned_label: &'static str,
    /// Issued (a row's heading).
    pub issued_label: &'static str,
    /// Archived (a row's heading).
    pub archived_label: &'static str,
}

/// Russian.
pub static RU: Words = Words {
    app: "АРМ ИС ЦОН",
    footer: "Государственная корпорация «Правительство для граждан» · учебное зеркало",
    language: "Язык",
    login_title: "Вход",
    iin: "ИИН",
    password: "Пароль",
    login: "Войти",
    logout: "Выйти",
    applications: "Заявления ЦОН",
    new_application: "Новое заявление",
    service: "Услуга",
    citizen_iin: "ИИН услугополучателя",
    representative: "Представитель по нотариальной доверенности",
    representative_iin: "ИИН представителя",
    poa_number: "Номер доверенности",
    ask_registries: "Запросить ГБД ФЛ и ЕНИС",
    number: "Номер",
    applicant: "Услугополучатель",
    state: "Состояние",
    status: "Статус",
    none_yet: "Заявлений пока нет",
    category: "Категория",
    phone: "Телефон",
    email: "Электронная почта",
    address: "Адрес проживания",
    form: "Сведения заявления",
    documents: "Документы",
    paper: "оригинал на бумаге",
    scan: "скан",
    required: "обязательный",
    sign_and_send: "Подписать и отправить",
    sign_note: "Заявление подписывается ключом оператора и направляется услугодателю через ШЭП",
    steps: "Шаги",
    step: "Шаг",
    started: "Начат",
    due: "Срок",
    completed: "Выполнен",
    overdue: "просрочен",
    statuses: "Статусы от ИС МИО",
    receipt: "Расписка (PDF)",
    result: "Результат (PDF)",
    mio_number: "Номер в ИС МИО",
    service_due: "Срок оказания услуги",
    delivery: "Доставка в ИС МИО",
    delivered: "принято ШЭП",
    queued: "в очереди на отправку",
    gateway_refused: "отклонено ШЭП",
    refusal: "Отказ в приеме",
    error: "Ошибка",
    state_draft: "оформляется",
    state_refused: "в приеме отказано",
    state_sent: "отправлено услугодателю",
    login_refused: "Неверный ИИН или пароль",
    login_throttled: "Слишком много неудачных входов; повторите после {time}",
    yes: "да",
    registers: "Реестры",
    awaiting: "Ожидают реестра",
    form_register: "Сформировать реестр",
    formed: "Сформирован",
    handed_over: "Передан услугодателю",
    hand_over: "Передать услугодателю",
    scan_title: "Сканирование штрих-кода",
    barcode_text: "Штрих-код (ввод сканера)",
    barcode_image: "или изображение скана (PNG)",
    scan_button: "Сканировать",
    paper_side: "Бумажный результат",
    result_state: "Результат",
    result_pending: "ещё не поступил",
    result_in_transit: "у курьера",
    result_ready: "готов к выдаче",
    result_issued: "выдан",
    result_archived: "в архиве",
    cover: "Обложка со штрих-кодом (PDF)",
    return_result: "Вернуть результат в ЦОН",
    issue: "Выдать результат",
    recipient_iin: "ИИН получающего",
    survey: "Анкета",
    scanned: "Штрих-код отсканирован",
    register_label: "Реестр",
    returned_label: "Возвращён курьером",
    issued_label: "Выдан",
    archived_label: "В архиве",
};

/// Kazakh.
pub static KK: Words = Words {
    app: "ХҚО АЖ АЖО",
    footer: "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы · оқу айнасы",
    language: "Тіл",
    login_title: "Кіру",
    iin: "ЖСН",
    password: "Құпиясөз",
    login: "Кіру",
    logout: "Шығу",
    applications: "ХҚО өтініштері",
    new_application: "Жаңа өтініш",
    service: "Қызмет",
    citizen_iin: "Қызмет алушының ЖСН",
    representative: "Нотариат куәландырған сенімхат бойынша өкіл",
    representative_iin: "Өкілдің ЖСН",
    poa_number: "Сенімхат нөмірі",
    ask_registries: "ЖТ МДҚ мен БНАЖ-ға сұрау",
    number: "Нөмір",
    applicant: "Қызмет алушы",
    state: "Күйі",
    status: "Мәртебе",
    none_yet: "Әзірге өтініштер жоқ",
    category: "Санат",
    phone: "Телефон",
    email: "Электрондық пошта",
    address: "Тұратын мекенжайы",
    form: "Өтініш мәліметтері",
    documents: "Құжаттар",
    paper: "қағаздағы түпнұсқа",
    scan: "скан",
    required: "міндетті",
    sign_and_send: "Қол қою және жіберу",
    sign_note: "Өтінішке оператордың кілтімен қол қойылып, ЭҮШ арқылы көрсетілетін қызметті берушіге жіберіледі",
    steps: "Қадамдар",
    step: "Қадам",
    started: "Басталды",
    due: "Мерзімі",
    completed: "Орындалды",
    overdue: "мерзімі өтті",
    statuses: "ЖАО АЖ-дан мәртебелер",
    receipt: "Қолхат (PDF)",
    result: "Нәтиже (PDF)",
    mio_number: "ЖАО АЖ-дағы нөмірі",
    service_due: "Қызмет көрсету мерзімі",
    delivery: "ЖАО АЖ-ға жеткізу",
    delivered: "ЭҮШ қабылдады",
    queued: "жіберу кезегінде",
    gateway_refused: "ЭҮШ қабылдамады",
    refusal: "Қабылдаудан бас тарту",
    error: "Қате",
    state_draft: "рәсімделуде",
    state_refused: "қабылдаудан бас тартылды",
    state_sent: "көрсетілетін қызметті берушіге жіберілді",
    login_refused: "ЖСН немесе құпиясөз қате",
    login_throttled: "Сәтсіз кірулер тым көп; {time} кейін қайталаңыз",
    yes: "иә",
    registers: "Тізілімдер",
    awaiting: "Тізілімді күтуде",
    form_register: "Тізілім жасау",
    formed: "Жасалды",
    handed_over: "Көрсетілетін қызметті берушіге берілді",
    hand_over: "Көрсетілетін қызметті берушіге беру",
    scan_title: "Штрих-кодты сканерлеу",
    barcode_text: "Штрих-код (сканер енгізуі)",
    barcode_image: "немесе скан кескіні (PNG)",
    scan_button: "Сканерлеу",
    paper_side: "Қағаз нәтиже",
    result_state: "Нәтиже",
    result_pending: "әлі түскен жоқ",
    result_in_transit: "курьерде",
    result_ready: "беруге дайын",
    result_issued: "берілді",
    result_archived: "мұрағатта",
    cover: "Штрих-коды бар мұқаба (PDF)",
    return_result: "Нәтижені ХҚО-ға қайтару",
    issue: "Нәтижені беру",
    recipient_iin: "Алушының ЖСН",
    survey: "Сауалнама",
    scanned: "Штрих-код сканерленді",
    register_label: "Тізілім",
    returned_label: "Курьер қайтарды",
    issued_label: "Берілді",
    archived_label: "Мұрағатта",
};
