"""Tests of text repair: scripts, hyphenation, page artefacts, bullets, citations and paragraph layouts."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from ingest.hyphenation import Vocabulary, keep_hyphen
from ingest.repair import repair_text, strip_repeated_lines
from ingest.script import fix_mixed_script

DATA = Path(__file__).parent / "data"


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("жəне кəсіби", "және кәсіби"),  # Latin schwa
        ("Əдіс", "Әдіс"),
        ("бiрлесіп тiлдерді", "бірлесіп тілдерді"),  # Latin i inside Kazakh words
        ("сүйенcек", "сүйенсек"),  # Latin c
        ("работа c детьми", "работа с детьми"),  # a one-letter Latin word between Cyrillic words
        ("XІX ғасыр", "XIX ғасыр"),  # a Roman numeral typed with a Cyrillic І
        ("Gamificаtion", "Gamification"),  # a Cyrillic а inside an English word
    ],
)
def test_mixed_script_words_become_single_script(raw: str, fixed: str) -> None:
    assert fix_mixed_script(raw) == fixed


@pytest.mark.parametrize(
    "text", ["TALIS зерттеуі", "Lesson Study әдісі", "CBTнің", "TALISтың", "iPhone", "BilimLand"]
)
def test_genuine_latin_words_are_left_alone(text: str) -> None:
    assert fix_mixed_script(text) == text


def test_latin_letters_file_is_repaired_exactly() -> None:
    assert repair_text(_read("kk_latin_letters.txt")) == (
        "Мұғалімнің кәсіби дамуы – үздіксіз процесс. TALIS зерттеуі бойынша мұғалімдердің көпшілігі "
        "курстарға "
        "қатысады. Кәсіби даму мектептің күнделікті жұмысымен байланысты болуы тиіс.\n\n"
        "Бірлескен жұмыстың тиімді түрлері:\n\n"
        "• Lesson Study әдісі;\n\n"
        "• тәлімгерлік және коучинг;\n\n"
        "• BilimLand платформасындағы онлайн курстар.\n\n"
        "Осы тәсілдерге сүйенсек, мұғалім өз тәжірибесін әріптестерімен бөліседі."
    )


@pytest.mark.parametrize(
    ("raw", "repaired"),
    [
        (
            "Педагогтың ин-\nновациялык ишмердүүлүгү маанилүү. Инновациялык ишмердүүлүк жаңы.",
            "Педагогтың инновациялык ишмердүүлүгү маанилүү. Инновациялык ишмердүүлүк жаңы.",
        ),
        ("Развитие деятель-\nности педагогов.", "Развитие деятельности педагогов."),
        (
            "Мугалимдин иш-\nмердүүлүгү. Ишмердүүлүк маанилүү.",
            "Мугалимдин ишмердүүлүгү. Ишмердүүлүк маанилүү.",
        ),
        ("Кабинет оқу-\nәдістемелік құралдар шығарады.", "Кабинет оқу-әдістемелік құралдар шығарады."),
        ("Работа учебно-\nвоспитательного процесса.", "Работа учебно-воспитательного процесса."),
        ("Проводятся мастер-\nклассы и семинары.", "Проводятся мастер-классы и семинары."),
        (
            "Кабинеттин иш-\nаракети ар түрдүү. Ар бир аракет маанилүү.",
            "Кабинеттин иш-аракети ар түрдүү. Ар бир аракет маанилүү.",
        ),
        ("Труды В.А. Кан-\nКалика известны.", "Труды В.А. Кан-Калика известны."),
        ("Внедрение чего-\nлибо нового.", "Внедрение чего-либо нового."),
        ("Программа на 2011-\n2020 годы принята.", "Программа на 2011-2020 годы принята."),
        ("Ата-\n\nаналар жиналысы өтті.", "Ата-аналар жиналысы өтті."),  # across a blank line
        ("Бұл педаго\u00ad\nгикалық шеберлік.", "Бұл педагогикалық шеберлік."),  # a soft hyphen
    ],
)
def test_line_end_hyphens(raw: str, repaired: str) -> None:
    assert repair_text(raw) == repaired


def test_hyphen_decision_uses_the_document_itself() -> None:
    with_joined = Vocabulary.from_text("Мугалимдин ишаракети жакшы. Ишаракети маанилүү.")
    with_compound = Vocabulary.from_text("Мугалимдин иш-аракети жакшы.")
    assert not keep_hyphen("иш", "аракети", with_joined)
    assert keep_hyphen("иш", "аракети", with_compound)


def test_syllable_split_inside_a_compound_keeps_the_compound_hyphen() -> None:
    text = "Это социально-пе-\nдагогический феномен. Педагогический опыт."
    assert repair_text(text) == "Это социально-педагогический феномен. Педагогический опыт."


@pytest.mark.parametrize(
    ("raw", "repaired"),
    [
        ("Озық іс- тәжірибенің түрлері.", "Озық іс-тәжірибенің түрлері."),
        ("Өзін -өзі бағалау, мекен -жайы.", "Өзін-өзі бағалау, мекен-жайы."),
        ("Обучение (метод- кейса, проекты).", "Обучение (метод-кейса, проекты)."),
        (
            "Разработка научно- и учебно-методической литературы.",
            "Разработка научно- и учебно-методической литературы.",
        ),
        (
            "Білім беру - кәсіптік бағдарламалар.",
            "Білім беру - кәсіптік бағдарламалар.",
        ),  # a spaced dash stays
    ],
)
def test_midline_hyphen_artefacts(raw: str, repaired: str) -> None:
    assert repair_text(raw) == repaired


def test_page_number_between_halves_of_a_sentence_is_dropped() -> None:
    raw = "Жиналған материалдар электрондық\n\n 39 \n\n\nбанкке енгізіледі.\n\n52\n\nКелесі бөлім басталады."
    assert (
        repair_text(raw) == "Жиналған материалдар электрондық банкке енгізіледі.\n\nКелесі бөлім басталады."
    )


def test_citation_markers_are_stripped() -> None:
    raw = "Бұл маңызды [2]. Зерттеулер [5-8] көрсетеді [1, 28б.]; тағы [1,32 б.], [6, 7б] және [1, 12 б]."
    assert repair_text(raw) == "Бұл маңызды. Зерттеулер көрсетеді; тағы, және."


def test_bullets_become_list_items() -> None:
    raw = "Міндеттер:\n• біріншісі;\n· екіншісі, ол ұзын\nжолға созылады;\n- үшіншісі.\nКелесі мәтін."
    assert repair_text(raw) == (
        "Міндеттер:\n\n• біріншісі;\n\n• екіншісі, ол ұзын жолға созылады;\n\n• үшіншісі.\n\nКелесі мәтін."
    )


def test_dash_that_continues_a_sentence_is_not_a_bullet() -> None:
    raw = "Инновациялык ишмердүүлүк\n– бул жаңы нерсе."
    assert repair_text(raw) == "Инновациялык ишмердүүлүк – бул жаңы нерсе."


def test_numbered_items_start_paragraphs() -> None:
    raw = "Екі мәселе бар:\n1) тәжірибені зерттеу;\n2) ғылымды практикаға\nенгізу."
    assert repair_text(raw) == "Екі мәселе бар:\n\n1) тәжірибені зерттеу;\n\n2) ғылымды практикаға енгізу."


def test_blank_line_after_every_line_layout() -> None:
    assert repair_text(_read("kk_ru_bilingual.txt")) == (
        "Әдістемелік кабинеттің басты міндеті – мұғалімдердің озық іс-тәжірибесін анықтау, зерделеу және "
        "тарату. "
        "Бұл жұмыс аудандық және облыстық деңгейде жүргізіледі. Кабинет әдіскерлері жыл сайын мектептерге "
        "барып, "
        "сабақтарды бақылайды және педагогикалық тәжірибені жинақтайды. Жиналған материалдар тексеріліп, "
        "электрондық банкке енгізіледі. Банкте оқу-әдістемелік құралдар, авторлық бағдарламалар және "
        "шебер-сыныптардың жазбалары сақталады. Әр жазбаның авторы, тақырыбы және қысқаша сипаттамасы "
        "көрсетіледі.\n\n"
        "Тәжірибені таратудың түрлері көп: семинарлар, ашық сабақтар, конференциялар т.б. Мұғалімдер "
        "педагогикалық шеберлігін осындай іс-шаралар арқылы үнемі шыңдап отырады.\n\n"
        "Введение\n\n"
        "Методический кабинет собирает сведения о передовом опыте учителей и помогает распространять его в "
        "районе. Особое внимание уделяется учебно-воспитательной работе и развитию профессиональной "
        "деятельности педагогов. В течение года проводятся семинары, мастер-классы и открытые уроки "
        "(см. приложение 1).\n\n"
        "Лучшие материалы включаются в электронный банк."
    )


def test_narrow_column_layout_with_syllable_splits() -> None:
    assert repair_text(_read("ky_narrow.txt")) == (
        "Мугалимдин инновациялык ишмердүүлүгү мектептин өнүгүшүнүн негизги шарты болуп саналат. Ар бир "
        "мугалим "
        "жаңы ыкмаларды үйрөнүп, аларды сабакта колдонууга аракет кылат. Методикалык кабинет мугалимдерге "
        "жардам берет. Кабинеттин иш-аракети төмөнкүлөрдү камтыйт:\n\n"
        "• семинарларды уюштуруу;\n\n"
        "• ачык сабактарды талдоо;\n\n"
        "• алдыңкы тажрыйбаны жайылтуу.\n\n"
        "Инновациялык идеялар ар түрдүү булактардан келип чыгат. Алардын бири – окуучулардын муктаждыктары. "
        "Ошондой эле жаңы педагогикалык технологиялар да маанилүү роль ойнойт."
    )


def test_blank_line_after_the_first_line_of_each_paragraph() -> None:
    raw = (
        "Білім беру процесіне инновациялық жаңалық енгізу арқылы оның\n\n"
        "мазмұнына және технологиялық аспектілерінің сапасын өзгертуге мүмкіндік\n"
        "береді.\n\n"
        "Өңірлердегі инновациялық педагогикалық қызметтің әдістемелік\n\n"
        "ілестірмелерін өңірлік деңгейде әдістемелік кабинеттер\n"
        "жүзеге асырады."
    )
    assert repair_text(raw) == (
        "Білім беру процесіне инновациялық жаңалық енгізу арқылы оның мазмұнына және технологиялық "
        "аспектілерінің сапасын өзгертуге мүмкіндік береді.\n\n"
        "Өңірлердегі инновациялық педагогикалық қызметтің әдістемелік ілестірмелерін өңірлік деңгейде "
        "әдістемелік кабинеттер жүзеге асырады."
    )


def test_one_line_per_paragraph_layout_keeps_paragraphs() -> None:
    first = "Бірінші абзац мұнда тұр және ол бір жолға сыйып кетеді, бірақ өте ұзын болуы мүмкін. " * 3
    second = "Екінші абзац басқа тақырыпты қозғайды. " * 2
    third = "Үшінші абзац қысқа."
    raw = "\n".join([first.strip(), second.strip(), third])
    assert repair_text(raw).split("\n\n") == [first.strip(), second.strip(), third]


def test_heading_gets_its_own_paragraph() -> None:
    raw = (
        "Методическое объединение\n"
        "В этом году учителя начальных классов изучали опыт коллег из соседних\n"
        "школ, посещали открытые уроки и готовили доклады для совета."
    )
    assert repair_text(raw) == (
        "Методическое объединение\n\n"
        "В этом году учителя начальных классов изучали опыт коллег из соседних школ, посещали открытые уроки "
        "и готовили доклады для совета."
    )


def test_whitespace_and_normalisation() -> None:
    raw = "тест\u00a0мәтін\tжәне  мектеп\u200b ,  и\u0306ыл ( жаңа )"
    repaired = repair_text(raw)
    assert repaired == "тест мәтін және мектеп, йыл (жаңа)"
    assert unicodedata.is_normalized("NFC", repaired)


@pytest.mark.parametrize("name", ["kk_ru_bilingual.txt", "ky_narrow.txt", "kk_latin_letters.txt"])
def test_repair_is_idempotent(name: str) -> None:
    once = repair_text(_read(name))
    assert repair_text(once) == once


def test_empty_and_blank_text() -> None:
    assert repair_text("") == ""
    assert repair_text(" \n\n 12 \n\n") == ""


def test_strip_repeated_lines_removes_running_headers_and_footers() -> None:
    bodies = [
        ["Бірінші бет басталады.", "Әдіскер сабаққа қатысады.", "Ол жазба жасайды.", "Жазба банкке түседі."],
        ["Екінші бетте мысал бар.", "Мұғалім тәжірибесін сипаттайды.", "Кеңес оны қарайды.", "Шешім шығады."],
        ["Үшінші бет қысқа.", "Банк толықтырылады.", "Есеп жазылады.", "Жыл аяқталады."],
        ["Төртінші бет соңғы.", "Қорытынды жасалады.", "Ұсыныстар беріледі.", "Жұмыс жалғасады."],
    ]
    pages = [
        "\n".join(["Әдістемелік хабаршы · №3", *body, f"— {n} —"]) + "\n"
        for n, body in enumerate(bodies, start=1)
    ]
    stripped = strip_repeated_lines(pages)
    assert stripped[0] == "\n".join(bodies[0]) + "\n"
    assert all("хабаршы" not in page and "—" not in page for page in stripped)


def test_strip_repeated_lines_keeps_body_lines_and_single_pages() -> None:
    pages = ["Кіріспе\nМәтін бір.\nСоңы.", "Кіріспе туралы емес\nМәтін екі.\nСоңы басқа."]
    assert strip_repeated_lines(pages) == pages
    assert strip_repeated_lines(["Жалғыз бет"]) == ["Жалғыз бет"]
