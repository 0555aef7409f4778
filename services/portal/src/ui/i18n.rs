//! The cabinet's words, in Russian and in Kazakh (one struct, so a word missing in one
//! language does not compile). Errors come with both texts already
//! ([`egov_system::api::ApiError`]); the language of a request is [`egov_pages::Lang`],
//! kept in the cookie [`COOKIE`].

pub use egov_pages::Lang;

/// The cookie that keeps the cabinet's language.
pub const COOKIE: &str = "portal_lang";

/// The words of `lang`.
pub fn words(lang: Lang) -> &'static Words {
    lang.pick(&RU, &KK)
}

/// Every word of the cabinet's pages in one language.
#[derive(Debug)]
pub struct Words {
    /// The portal.
    pub app: &'static str,
    /// The footer.
    pub footer: &'static str,
    /// «Язык».
    pub language: &'static str,
    /// The login page.
    pub login_title: &'static str,
    /// The registration page.
    pub register_title: &'static str,
    /// IIN.
    pub iin: &'static str,
    /// Password.
    pub password: &'static str,
    /// The password again.
    pub password_again: &'static str,
    /// E-mail.
    pub email: &'static str,
    /// The login button.
    pub login: &'static str,
    /// The registration button.
    pub register: &'static str,
    /// A link from the login to the registration.
    pub no_account: &'static str,
    /// A link from the registration to the login.
    pub have_account: &'static str,
    /// The logout button.
    pub logout: &'static str,
    /// The two passwords differ.
    pub passwords_differ: &'static str,
    /// The catalogue.
    pub services: &'static str,
    /// «История получения услуг».
    pub history: &'static str,
    /// Service.
    pub service: &'static str,
    /// The regulation.
    pub regulation: &'static str,
    /// Provider.
    pub provider: &'static str,
    /// The service's deadline.
    pub deadline: &'static str,
    /// The documents.
    pub documents: &'static str,
    /// Required.
    pub required: &'static str,
    /// Who may apply.
    pub categories: &'static str,
    /// More about a service.
    pub more: &'static str,
    /// «Заказать услугу онлайн».
    pub order: &'static str,
    /// The applicant.
    pub applicant: &'static str,
    /// Full name.
    pub full_name: &'static str,
    /// Category.
    pub category: &'static str,
    /// Phone.
    pub phone: &'static str,
    /// Statuses by e-mail.
    pub notify_email: &'static str,
    /// The form's fields.
    pub form: &'static str,
    /// A scan's input.
    pub scan: &'static str,
    /// «отправить запрос».
    pub send_request: &'static str,
    /// A request (the title of its screen).
    pub request: &'static str,
    /// The request number.
    pub number: &'static str,
    /// The request's status.
    pub status: &'static str,
    /// When the service is due.
    pub service_due: &'static str,
    /// «обновить статус».
    pub refresh: &'static str,
    /// «просмотр результата».
    pub view_result: &'static str,
    /// «сохранить».
    pub save: &'static str,
    /// «просмотреть выходной документ» (the history's link).
    pub output_document: &'static str,
    /// The statuses' table.
    pub statuses: &'static str,
    /// The table of the portal channel's steps.
    pub steps: &'static str,
    /// A step past its due time.
    pub overdue: &'static str,
    /// «срок» of a step.
    pub due: &'static str,
    /// Date.
    pub date: &'static str,
    /// An empty history.
    pub none_yet: &'static str,
    /// A draft.
    pub state_draft: &'static str,
    /// Signed, being sent.
    pub state_sent: &'static str,
    /// Taken by the gateway.
    pub state_delivered: &'static str,
    /// Taken at a ЦОН.
    pub state_at_centre: &'static str,
    /// The scans attached.
    pub attachments: &'static str,
    /// Attach more.
    pub attach: &'static str,
    /// Remove a scan.
    pub remove: &'static str,
    /// The provider's number.
    pub mio_number: &'static str,
    /// The place on the waiting list.
    pub queue_number: &'static str,
    /// Why it was refused.
    pub reason: &'static str,
    /// The signing page.
    pub sign_title: &'static str,
    /// What the signing page says first.
    pub sign_note: &'static str,
    /// The digest of what is signed.
    pub digest: &'static str,
    /// «выбрать сертификат».
    pub choose_certificate: &'static str,
    /// The key storage.
    pub storage: &'static str,
    /// The certificate.
    pub certificate: &'static str,
    /// Its owner.
    pub owner: &'static str,
    /// Valid from–to.
    pub valid: &'static str,
    /// Its issuer.
    pub issuer: &'static str,
    /// «подписать».
    pub sign: &'static str,
    /// The no-script way: paste a CMS.
    pub paste_signature: &'static str,
    /// NCALayer cannot be reached (`{url}`).
    pub ncalayer_unavailable: &'static str,
    /// NCALayer answered with an error.
    pub ncalayer_refused: &'static str,
    /// The error page.
    pub error: &'static str,
}

/// Russian.
pub static RU: Words = Words {
    app: "Электронное правительство",
    footer: "Портал «электронного правительства» Республики Казахстан · учебное зеркало",
    language: "Язык",
    login_title: "Вход в личный кабинет",
    register_title: "Регистрация",
    iin: "ИИН",
    password: "Пароль",
    password_again: "Пароль ещё раз",
    email: "Электронная почта",
    login: "Войти",
    register: "Зарегистрироваться",
    no_account: "Нет учётной записи? Регистрация",
    have_account: "Уже зарегистрированы? Вход",
    logout: "Выйти",
    passwords_differ: "Пароли не совпадают",
    services: "Государственные услуги",
    history: "История получения услуг",
    service: "Услуга",
    regulation: "Регламент",
    provider: "Услугодатель",
    deadline: "Срок оказания",
    documents: "Необходимые документы",
    required: "обязательный",
    categories: "Категории услугополучателей",
    more: "Подробнее",
    order: "Заказать услугу онлайн",
    applicant: "Услугополучатель",
    full_name: "ФИО",
    category: "Категория",
    phone: "Телефон",
    notify_email: "Сообщать о статусах по электронной почте",
    form: "Сведения запроса",
    scan: "скан (PDF, JPEG, PNG)",
    send_request: "Отправить запрос",
    request: "Запрос",
    number: "Номер запроса",
    status: "Статус запроса",
    service_due: "Срок оказания услуги",
    refresh: "Обновить статус",
    view_result: "Просмотр результата",
    save: "Сохранить",
    output_document: "Просмотреть выходной документ",
    statuses: "Ход исполнения",
    steps: "Этапы на портале",
    overdue: "просрочен",
    due: "срок",
    date: "Дата",
    none_yet: "Вы ещё не заказывали услуг",
    state_draft: "черновик: не подписан",
    state_sent: "подписан, отправляется услугодателю",
    state_delivered: "отправлен услугодателю",
    state_at_centre: "принят в ЦОН",
    attachments: "Приложенные документы",
    attach: "Приложить",
    remove: "Удалить",
    mio_number: "Номер у услугодателя",
    queue_number: "Номер в очереди",
    reason: "Причина",
    sign_title: "Подписание запроса",
    sign_note: "Запрос удостоверяется вашей ЭЦП в NCALayer: подпись создаётся на вашем компьютере, ключ его не покидает.",
    digest: "SHA-256 подписываемых данных",
    choose_certificate: "Выбрать сертификат",
    storage: "Хранилище ключей",
    certificate: "Регистрационное свидетельство",
    owner: "Владелец",
    valid: "Действует",
    issuer: "Издатель",
    sign: "Подписать",
    paste_signature: "Подпись CMS (base64), созданная другим средством",
    ncalayer_unavailable: "NCALayer не запущен или недоступен ({url})",
    ncalayer_refused: "NCALayer не выполнил запрос",
    error: "Ошибка",
};

/// Kazakh.
pub static KK: Words = Words {
    app: "Электрондық үкімет",
    footer: "Қазақстан Республикасының «электрондық үкімет» порталы · оқу айнасы",
    language: "Тіл",
    login_title: "Жеке кабинетке кіру",
    register_title: "Тіркелу",
    iin: "ЖСН",
    password: "Құпиясөз",
    password_again: "Құпиясөзді қайталаңыз",
    email: "Электрондық пошта",
    login: "Кіру",
    register: "Тіркелу",
    no_account: "Тіркелгіңіз жоқ па? Тіркелу",
    have_account: "Тіркелгенсіз бе? Кіру",
    logout: "Шығу",
    passwords_differ: "Құпиясөздер сәйкес келмейді",
    services: "Мемлекеттік қызметтер",
    history: "Қызмет алу тарихы",
    service: "Қызмет",
    regulation: "Регламент",
    provider: "Көрсетілетін қызметті беруші",
    deadline: "Көрсету мерзімі",
    documents: "Қажетті құжаттар",
    required: "міндетті",
    categories: "Көрсетілетін қызметті алушылардың санаттары",
    more: "Толығырақ",
    order: "Қызметке онлайн тапсырыс беру",
    applicant: "Көрсетілетін қызметті алушы",
    full_name: "Аты-жөні",
    category: "Санат",
    phone: "Телефон",
    notify_email: "Мәртебелер туралы электрондық поштаға хабарлау",
    form: "Сұрау мәліметтері",
    scan: "скан (PDF, JPEG, PNG)",
    send_request: "Сұрауды жіберу",
    request: "Сұрау",
    number: "Сұрау нөмірі",
    status: "Сұрау мәртебесі",
    service_due: "Қызмет көрсету мерзімі",
    refresh: "Мәртебені жаңарту",
    view_result: "Нәтижені қарау",
    save: "Сақтау",
    output_document: "Шығыс құжатты қарау",
    statuses: "Орындалу барысы",
    steps: "Порталдағы кезеңдер",
    overdue: "мерзімі өтті",
    due: "мерзімі",
    date: "Күні",
    none_yet: "Сіз әлі қызметке тапсырыс бермегенсіз",
    state_draft: "жоба: қол қойылмаған",
    state_sent: "қол қойылды, көрсетілетін қызметті берушіге жіберілуде",
    state_delivered: "көрсетілетін қызметті берушіге жіберілді",
    state_at_centre: "ХҚО-да қабылданды",
    attachments: "Тіркелген құжаттар",
    attach: "Тіркеу",
    remove: "Жою",
    mio_number: "Көрсетілетін қызметті берушідегі нөмірі",
    queue_number: "Кезектегі нөмірі",
    reason: "Себебі",
    sign_title: "Сұрауға қол қою",
    sign_note: "Сұрау NCALayer-де сіздің ЭЦҚ-ңызбен куәландырылады: қолтаңба сіздің компьютеріңізде жасалады, кілт одан шықпайды.",
    digest: "Қол қойылатын деректердің SHA-256",
    choose_certificate: "Сертификатты таңдау",
    storage: "Кілттер қоймасы",
    certificate: "Тіркеу куәлігі",
    owner: "Иесі",
    valid: "Жарамды",
    issuer: "Берген",
    sign: "Қол қою",
    paste_signature: "Басқа құралмен жасалған CMS қолтаңбасы (base64)",
    ncalayer_unavailable: "NCALayer іске қосылмаған немесе қолжетімсіз ({url})",
    ncalayer_refused: "NCALayer сұрауды орындамады",
    error: "Қате",
};
