"""Messages a person reads, in English, Russian, Kazakh and Kyrgyz, keyed by error kind; picked by Accept-Language.

Names and values (ids, field names, limits, the English reason a pedkb error carries) are kept as they are;
only the fixed part of a message is translated. Any other language gets English.
"""

from __future__ import annotations

import string

LANGUAGES = ("en", "ru", "kk", "ky")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "document_not_found": {
        "en": "document '{id}' not found",
        "ru": "документ «{id}» не найден",
        "kk": "«{id}» құжаты табылмады",
        "ky": "«{id}» документи табылган жок",
    },
    "experience_not_found": {
        "en": "experience '{id}' not found",
        "ru": "опыт «{id}» не найден",
        "kk": "«{id}» тәжірибесі табылмады",
        "ky": "«{id}» тажрыйбасы табылган жок",
    },
    "technology_not_found": {
        "en": "technology '{id}' not found",
        "ru": "технология «{id}» не найдена",
        "kk": "«{id}» технологиясы табылмады",
        "ky": "«{id}» технологиясы табылган жок",
    },
    "not_found": {
        "en": "not found: {reason}",
        "ru": "не найдено: {reason}",
        "kk": "табылмады: {reason}",
        "ky": "табылган жок: {reason}",
    },
    "route_not_found": {
        "en": "no such address in the API: {path}",
        "ru": "в API нет такого адреса: {path}",
        "kk": "API-де мұндай мекенжай жоқ: {path}",
        "ky": "API-де мындай дарек жок: {path}",
    },
    "method_not_allowed": {
        "en": "method {method} is not allowed for this address",
        "ru": "метод {method} не разрешён для этого адреса",
        "kk": "бұл мекенжай үшін {method} әдісіне рұқсат жоқ",
        "ky": "бул дарек үчүн {method} ыкмасына уруксат жок",
    },
    "api_key_required": {
        "en": "an API key is required to change data: send it in the X-API-Key header or as "
              "Authorization: Bearer <key>",
        "ru": "для изменения данных нужен ключ API: передайте его в заголовке X-API-Key или как "
              "Authorization: Bearer <ключ>",
        "kk": "деректерді өзгерту үшін API кілті қажет: оны X-API-Key тақырыбында немесе "
              "Authorization: Bearer <кілт> түрінде жіберіңіз",
        "ky": "маалыматтарды өзгөртүү үчүн API ачкычы керек: аны X-API-Key аталышында же "
              "Authorization: Bearer <ачкыч> түрүндө жөнөтүңүз",
    },
    "api_key_invalid": {
        "en": "the API key is not valid",
        "ru": "ключ API недействителен",
        "kk": "API кілті жарамсыз",
        "ky": "API ачкычы жараксыз",
    },
    "writes_disabled": {
        "en": "this server accepts no changes: no API keys are configured (PEDKB_API_KEYS)",
        "ru": "сервер не принимает изменений: ключи API не настроены (PEDKB_API_KEYS)",
        "kk": "сервер өзгерістерді қабылдамайды: API кілттері бапталмаған (PEDKB_API_KEYS)",
        "ky": "сервер өзгөртүүлөрдү кабыл албайт: API ачкычтары жөндөлгөн эмес (PEDKB_API_KEYS)",
    },
    "query_too_long": {
        "en": "the query is too long: {length} characters, the limit is {limit}",
        "ru": "запрос слишком длинный: {length} символов при пределе {limit}",
        "kk": "сұрау тым ұзын: {length} таңба, шегі — {limit}",
        "ky": "сурам өтө узун: {length} белги, чеги — {limit}",
    },
    "empty_value": {
        "en": "{field} must not be empty",
        "ru": "{field} не должно быть пустым",
        "kk": "{field} бос болмауы керек",
        "ky": "{field} бош болбошу керек",
    },
    "too_long": {
        "en": "{field} is too long: at most {limit} characters",
        "ru": "{field}: слишком длинное значение, не более {limit} символов",
        "kk": "{field} тым ұзын: ең көбі {limit} таңба",
        "ky": "{field} өтө узун: эң көбү {limit} белги",
    },
    "too_small": {
        "en": "{field} must be at least {limit} (got {value})",
        "ru": "{field} должно быть не меньше {limit} (получено {value})",
        "kk": "{field} кемінде {limit} болуы керек (берілгені: {value})",
        "ky": "{field} кеминде {limit} болушу керек (берилгени: {value})",
    },
    "too_large": {
        "en": "{field} must be at most {limit} (got {value})",
        "ru": "{field} должно быть не больше {limit} (получено {value})",
        "kk": "{field} ең көбі {limit} болуы керек (берілгені: {value})",
        "ky": "{field} эң көбү {limit} болушу керек (берилгени: {value})",
    },
    "missing_field": {
        "en": "{field} is required",
        "ru": "поле {field} обязательно",
        "kk": "{field} өрісі міндетті",
        "ky": "{field} талаасы милдеттүү",
    },
    "unknown_field": {
        "en": "{field} is not a known parameter",
        "ru": "{field} — неизвестный параметр",
        "kk": "{field} — белгісіз параметр",
        "ky": "{field} — белгисиз параметр",
    },
    "invalid_value": {
        "en": "{field}: invalid value: {reason}",
        "ru": "{field}: недопустимое значение: {reason}",
        "kk": "{field}: жарамсыз мән: {reason}",
        "ky": "{field}: жараксыз маани: {reason}",
    },
    "invalid_id": {
        "en": "{field}: '{value}' is not a valid id: use lowercase Latin letters a-z, digits and single hyphens "
              "(e.g. exp-kk-syni-oylau), or leave it empty to get one made from the title",
        "ru": "{field}: «{value}» — недопустимый id: используйте строчные латинские буквы a-z, цифры и одиночные "
              "дефисы (например, exp-ru-kriticheskoe-myshlenie) или оставьте поле пустым — id будет создан из названия",
        "kk": "{field}: «{value}» — жарамсыз id: кіші латын әріптерін a-z, цифрларды және жалғыз сызықшаларды "
              "қолданыңыз (мысалы, exp-kk-syni-oylau) немесе өрісті бос қалдырыңыз — id атаудан жасалады",
        "ky": "{field}: «{value}» — жараксыз id: кичине латын тамгаларын a-z, сандарды жана жалгыз дефистерди "
              "колдонуңуз (мисалы, exp-ky-synchyl-oy) же талааны бош калтырыңыз — id аталыштан түзүлөт",
    },
    "unknown_value": {
        "en": "{field}: unknown value '{value}'",
        "ru": "{field}: неизвестное значение «{value}»",
        "kk": "{field}: белгісіз мән «{value}»",
        "ky": "{field}: белгисиз маани «{value}»",
    },
    "invalid_json": {
        "en": "the request body is not valid JSON: {reason}",
        "ru": "тело запроса — некорректный JSON: {reason}",
        "kk": "сұрау денесі дұрыс JSON емес: {reason}",
        "ky": "сурамдын денеси туура JSON эмес: {reason}",
    },
    "bad_request": {
        "en": "the request could not be read: {reason}",
        "ru": "не удалось прочитать запрос: {reason}",
        "kk": "сұрауды оқу мүмкін болмады: {reason}",
        "ky": "сурамды окуу мүмкүн болгон жок: {reason}",
    },
    "body_too_large": {
        "en": "the request body is too large: the limit is {limit}",
        "ru": "тело запроса слишком велико: предел {limit}",
        "kk": "сұрау денесі тым үлкен: шегі {limit}",
        "ky": "сурамдын денеси өтө чоң: чеги {limit}",
    },
    "rate_limited": {
        "en": "too many requests: the limit is {limit}; try again in {seconds} s",
        "ru": "слишком много запросов: предел {limit}; повторите через {seconds} с",
        "kk": "сұраулар тым көп: шегі {limit}; {seconds} с кейін қайталаңыз",
        "ky": "сурамдар өтө көп: чеги {limit}; {seconds} с кийин кайталаңыз",
    },
    "uri_too_long": {
        "en": "the address is too long (over {limit}); send long queries with POST /api/v1/search",
        "ru": "адрес слишком длинный (больше {limit}); длинные запросы отправляйте через POST /api/v1/search",
        "kk": "мекенжай тым ұзын ({limit} артық); ұзын сұрауларды POST /api/v1/search арқылы жіберіңіз",
        "ky": "дарек өтө узун ({limit} ашык); узун сурамдарды POST /api/v1/search аркылуу жөнөтүңүз",
    },
    "headers_too_large": {
        "en": "the request headers are too large (over {limit})",
        "ru": "заголовки запроса слишком велики (больше {limit})",
        "kk": "сұрау тақырыптары тым үлкен ({limit} артық)",
        "ky": "сурамдын баш саптары өтө чоң ({limit} ашык)",
    },
    "filename_missing": {
        "en": "the file has no usable name ('{name}'): send each file with its own name, e.g. plan.docx",
        "ru": "у файла нет пригодного имени («{name}»): отправляйте каждый файл с его именем, например plan.docx",
        "kk": "файлдың жарамды аты жоқ («{name}»): әр файлды өз атымен жіберіңіз, мысалы plan.docx",
        "ky": "файлдын жарактуу аты жок («{name}»): ар бир файлды өз аты менен жөнөтүңүз, мисалы plan.docx",
    },
    "file_too_large": {
        "en": "the file is too large: {size}, the limit is {limit}",
        "ru": "файл слишком большой: {size} при пределе {limit}",
        "kk": "файл тым үлкен: {size}, шегі {limit}",
        "ky": "файл өтө чоң: {size}, чеги {limit}",
    },
    "too_many_files": {
        "en": "too many files in one request: at most {limit}",
        "ru": "слишком много файлов в одном запросе: не более {limit}",
        "kk": "бір сұраудағы файлдар тым көп: ең көбі {limit}",
        "ky": "бир сурамдагы файлдар өтө көп: эң көбү {limit}",
    },
    "no_files": {
        "en": "no files in the request: send them as multipart/form-data fields named 'files'",
        "ru": "в запросе нет файлов: отправьте их как поля multipart/form-data с именем 'files'",
        "kk": "сұрауда файл жоқ: оларды 'files' деп аталған multipart/form-data өрістері ретінде жіберіңіз",
        "ky": "сурамда файл жок: аларды 'files' деп аталган multipart/form-data талаалары катары жөнөтүңүз",
    },
    "unsupported_media_type": {
        "en": "unsupported content type '{got}': expected {expected}",
        "ru": "неподдерживаемый тип содержимого «{got}»: ожидается {expected}",
        "kk": "қолдау көрсетілмейтін мазмұн түрі «{got}»: {expected} күтіледі",
        "ky": "колдоого алынбаган мазмун түрү «{got}»: {expected} күтүлөт",
    },
    "id_mismatch": {
        "en": "the id in the body ('{body}') differs from the id in the address ('{path}')",
        "ru": "id в теле запроса («{body}») не совпадает с id в адресе («{path}»)",
        "kk": "сұрау денесіндегі id («{body}») мекенжайдағы id-мен («{path}») сәйкес емес",
        "ky": "сурамдын денесиндеги id («{body}») даректеги id («{path}») менен дал келбейт",
    },
    "conflict": {
        "en": "conflict with existing data: {reason}",
        "ru": "конфликт с существующими данными: {reason}",
        "kk": "бар деректермен қайшылық: {reason}",
        "ky": "бар маалыматтар менен карама-каршылык: {reason}",
    },
    "input_error": {
        "en": "bad input: {reason}",
        "ru": "неверные входные данные: {reason}",
        "kk": "қате кіріс деректері: {reason}",
        "ky": "туура эмес киргизилген маалыматтар: {reason}",
    },
    "model_unavailable": {
        "en": "the embedding model is not available: {reason}",
        "ru": "модель эмбеддингов недоступна: {reason}",
        "kk": "эмбеддинг моделі қолжетімсіз: {reason}",
        "ky": "эмбеддинг модели жеткиликсиз: {reason}",
    },
    "starting": {
        "en": "the service is starting: the model is loading, try again in a moment",
        "ru": "сервис запускается: модель загружается, повторите попытку чуть позже",
        "kk": "сервис іске қосылуда: модель жүктелуде, сәлден кейін қайталаңыз",
        "ky": "сервис ишке киргизилүүдө: модель жүктөлүүдө, бир аздан кийин кайталаңыз",
    },
    "not_ready": {
        "en": "the service is not ready: the model failed to load: {reason}",
        "ru": "сервис не готов: модель не загрузилась: {reason}",
        "kk": "сервис дайын емес: модель жүктелмеді: {reason}",
        "ky": "сервис даяр эмес: модель жүктөлгөн жок: {reason}",
    },
    "store_unavailable": {
        "en": "the store cannot be used right now: {reason}",
        "ru": "хранилище сейчас недоступно: {reason}",
        "kk": "қойма қазір қолжетімсіз: {reason}",
        "ky": "сактагыч азыр жеткиликсиз: {reason}",
    },
    "internal_error": {
        "en": "internal error; it has been logged",
        "ru": "внутренняя ошибка; она записана в журнал",
        "kk": "ішкі қате; ол журналға жазылды",
        "ky": "ички ката; ал журналга жазылды",
    },
    "http_error": {
        "en": "the request failed: {reason}",
        "ru": "запрос не выполнен: {reason}",
        "kk": "сұрау орындалмады: {reason}",
        "ky": "сурам аткарылган жок: {reason}",
    },
    "nothing_ingested": {
        "en": "no file was ingested: {reasons}",
        "ru": "ни один файл не принят: {reasons}",
        "kk": "бірде-бір файл қабылданбады: {reasons}",
        "ky": "бир дагы файл кабыл алынган жок: {reasons}",
    },
    # per-file outcomes of an upload
    "file_added": {
        "en": "added: {chunks} chunks",
        "ru": "добавлен: фрагментов — {chunks}",
        "kk": "қосылды: {chunks} фрагмент",
        "ky": "кошулду: {chunks} фрагмент",
    },
    "file_updated": {
        "en": "updated: {chunks} chunks",
        "ru": "обновлён: фрагментов — {chunks}",
        "kk": "жаңартылды: {chunks} фрагмент",
        "ky": "жаңыртылды: {chunks} фрагмент",
    },
    "file_unchanged": {
        "en": "unchanged",
        "ru": "без изменений",
        "kk": "өзгеріссіз",
        "ky": "өзгөрүүсүз",
    },
    "file_failed": {
        "en": "not ingested: {reason}",
        "ru": "не принят: {reason}",
        "kk": "қабылданбады: {reason}",
        "ky": "кабыл алынган жок: {reason}",
    },
}


class _Keep(dict[str, object]):
    """Leaves a placeholder with no value as it is instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message(kind: str, lang: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """The message of `kind` in `lang` (English when there is none), with the values filled in."""
    texts = MESSAGES.get(kind)
    if texts is None:
        return str(values.get("reason") or kind)
    template = texts.get(lang) or texts[DEFAULT_LANGUAGE]
    return string.Formatter().vformat(template, (), _Keep(values))


def pick_language(accept_language: str | None) -> str:
    """The best catalogue language for an Accept-Language header (RFC 9110 weights; default English)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
