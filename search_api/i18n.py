"""Messages a person reads, in English, Russian and Kazakh, keyed by error kind; picked by Accept-Language.

Names and values (ids, field names, limits, the English reason a pedkb error carries) are kept as they are;
only the fixed part of a message is translated. Kyrgyz readers get Russian, anything else gets English.
"""

from __future__ import annotations

import string

LANGUAGES = ("en", "ru", "kk")
DEFAULT_LANGUAGE = "en"
FALLBACKS = {"ky": "ru"}

MESSAGES: dict[str, dict[str, str]] = {
    "document_not_found": {
        "en": "document '{id}' not found",
        "ru": "документ «{id}» не найден",
        "kk": "«{id}» құжаты табылмады",
    },
    "experience_not_found": {
        "en": "experience '{id}' not found",
        "ru": "опыт «{id}» не найден",
        "kk": "«{id}» тәжірибесі табылмады",
    },
    "technology_not_found": {
        "en": "technology '{id}' not found",
        "ru": "технология «{id}» не найдена",
        "kk": "«{id}» технологиясы табылмады",
    },
    "not_found": {
        "en": "not found: {reason}",
        "ru": "не найдено: {reason}",
        "kk": "табылмады: {reason}",
    },
    "route_not_found": {
        "en": "no such address in the API: {path}",
        "ru": "в API нет такого адреса: {path}",
        "kk": "API-де мұндай мекенжай жоқ: {path}",
    },
    "method_not_allowed": {
        "en": "method {method} is not allowed for this address",
        "ru": "метод {method} не разрешён для этого адреса",
        "kk": "бұл мекенжай үшін {method} әдісіне рұқсат жоқ",
    },
    "api_key_required": {
        "en": "an API key is required to change data: send it in the X-API-Key header or as "
              "Authorization: Bearer <key>",
        "ru": "для изменения данных нужен ключ API: передайте его в заголовке X-API-Key или как "
              "Authorization: Bearer <ключ>",
        "kk": "деректерді өзгерту үшін API кілті қажет: оны X-API-Key тақырыбында немесе "
              "Authorization: Bearer <кілт> түрінде жіберіңіз",
    },
    "api_key_invalid": {
        "en": "the API key is not valid",
        "ru": "ключ API недействителен",
        "kk": "API кілті жарамсыз",
    },
    "writes_disabled": {
        "en": "this server accepts no changes: no API keys are configured (PEDKB_API_KEYS)",
        "ru": "сервер не принимает изменений: ключи API не настроены (PEDKB_API_KEYS)",
        "kk": "сервер өзгерістерді қабылдамайды: API кілттері бапталмаған (PEDKB_API_KEYS)",
    },
    "query_too_long": {
        "en": "the query is too long: {length} characters, the limit is {limit}",
        "ru": "запрос слишком длинный: {length} символов при пределе {limit}",
        "kk": "сұрау тым ұзын: {length} таңба, шегі — {limit}",
    },
    "empty_value": {
        "en": "{field} must not be empty",
        "ru": "{field} не должно быть пустым",
        "kk": "{field} бос болмауы керек",
    },
    "too_long": {
        "en": "{field} is too long: at most {limit} characters",
        "ru": "{field}: слишком длинное значение, не более {limit} символов",
        "kk": "{field} тым ұзын: ең көбі {limit} таңба",
    },
    "too_small": {
        "en": "{field} must be at least {limit} (got {value})",
        "ru": "{field} должно быть не меньше {limit} (получено {value})",
        "kk": "{field} кемінде {limit} болуы керек (берілгені: {value})",
    },
    "too_large": {
        "en": "{field} must be at most {limit} (got {value})",
        "ru": "{field} должно быть не больше {limit} (получено {value})",
        "kk": "{field} ең көбі {limit} болуы керек (берілгені: {value})",
    },
    "missing_field": {
        "en": "{field} is required",
        "ru": "поле {field} обязательно",
        "kk": "{field} өрісі міндетті",
    },
    "unknown_field": {
        "en": "{field} is not a known parameter",
        "ru": "{field} — неизвестный параметр",
        "kk": "{field} — белгісіз параметр",
    },
    "invalid_value": {
        "en": "{field}: invalid value: {reason}",
        "ru": "{field}: недопустимое значение: {reason}",
        "kk": "{field}: жарамсыз мән: {reason}",
    },
    "unknown_value": {
        "en": "{field}: unknown value '{value}'",
        "ru": "{field}: неизвестное значение «{value}»",
        "kk": "{field}: белгісіз мән «{value}»",
    },
    "invalid_json": {
        "en": "the request body is not valid JSON: {reason}",
        "ru": "тело запроса — некорректный JSON: {reason}",
        "kk": "сұрау денесі дұрыс JSON емес: {reason}",
    },
    "bad_request": {
        "en": "the request could not be read: {reason}",
        "ru": "не удалось прочитать запрос: {reason}",
        "kk": "сұрауды оқу мүмкін болмады: {reason}",
    },
    "body_too_large": {
        "en": "the request body is too large: the limit is {limit}",
        "ru": "тело запроса слишком велико: предел {limit}",
        "kk": "сұрау денесі тым үлкен: шегі {limit}",
    },
    "file_too_large": {
        "en": "the file is too large: {size}, the limit is {limit}",
        "ru": "файл слишком большой: {size} при пределе {limit}",
        "kk": "файл тым үлкен: {size}, шегі {limit}",
    },
    "too_many_files": {
        "en": "too many files in one request: at most {limit}",
        "ru": "слишком много файлов в одном запросе: не более {limit}",
        "kk": "бір сұраудағы файлдар тым көп: ең көбі {limit}",
    },
    "no_files": {
        "en": "no files in the request: send them as multipart/form-data fields named 'files'",
        "ru": "в запросе нет файлов: отправьте их как поля multipart/form-data с именем 'files'",
        "kk": "сұрауда файл жоқ: оларды 'files' деп аталған multipart/form-data өрістері ретінде жіберіңіз",
    },
    "unsupported_media_type": {
        "en": "unsupported content type '{got}': expected {expected}",
        "ru": "неподдерживаемый тип содержимого «{got}»: ожидается {expected}",
        "kk": "қолдау көрсетілмейтін мазмұн түрі «{got}»: {expected} күтіледі",
    },
    "id_mismatch": {
        "en": "the id in the body ('{body}') differs from the id in the address ('{path}')",
        "ru": "id в теле запроса («{body}») не совпадает с id в адресе («{path}»)",
        "kk": "сұрау денесіндегі id («{body}») мекенжайдағы id-мен («{path}») сәйкес емес",
    },
    "conflict": {
        "en": "conflict with existing data: {reason}",
        "ru": "конфликт с существующими данными: {reason}",
        "kk": "бар деректермен қайшылық: {reason}",
    },
    "input_error": {
        "en": "bad input: {reason}",
        "ru": "неверные входные данные: {reason}",
        "kk": "қате кіріс деректері: {reason}",
    },
    "model_unavailable": {
        "en": "the embedding model is not available: {reason}",
        "ru": "модель эмбеддингов недоступна: {reason}",
        "kk": "эмбеддинг моделі қолжетімсіз: {reason}",
    },
    "store_unavailable": {
        "en": "the store cannot be used right now: {reason}",
        "ru": "хранилище сейчас недоступно: {reason}",
        "kk": "қойма қазір қолжетімсіз: {reason}",
    },
    "internal_error": {
        "en": "internal error; it has been logged",
        "ru": "внутренняя ошибка; она записана в журнал",
        "kk": "ішкі қате; ол журналға жазылды",
    },
    "http_error": {
        "en": "the request failed: {reason}",
        "ru": "запрос не выполнен: {reason}",
        "kk": "сұрау орындалмады: {reason}",
    },
    "nothing_ingested": {
        "en": "no file was ingested: {reasons}",
        "ru": "ни один файл не принят: {reasons}",
        "kk": "бірде-бір файл қабылданбады: {reasons}",
    },
    # per-file outcomes of an upload
    "file_added": {
        "en": "added: {chunks} chunks",
        "ru": "добавлен: фрагментов — {chunks}",
        "kk": "қосылды: {chunks} фрагмент",
    },
    "file_updated": {
        "en": "updated: {chunks} chunks",
        "ru": "обновлён: фрагментов — {chunks}",
        "kk": "жаңартылды: {chunks} фрагмент",
    },
    "file_unchanged": {
        "en": "unchanged",
        "ru": "без изменений",
        "kk": "өзгеріссіз",
    },
    "file_failed": {
        "en": "not ingested: {reason}",
        "ru": "не принят: {reason}",
        "kk": "қабылданбады: {reason}",
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
        primary = FALLBACKS.get(primary, primary)
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
