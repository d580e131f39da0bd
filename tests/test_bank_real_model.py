"""The knowledge base with the real model: classification accuracy and cross-lingual similar projects."""

from __future__ import annotations

import pytest

from index.kb.classify import evaluate_classifier
from index.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.slow

# pairs of sample projects on the same topic in different languages (corpus/README.md)
PAIRS = [("exp-ru-001", "exp-ky-001"), ("exp-kk-002", "exp-ru-002"), ("exp-kk-003", "exp-ky-004"),
         ("exp-ru-004", "exp-ky-003"), ("exp-kk-004", "exp-ru-003"), ("exp-kk-001", "exp-ky-002"),
         ("exp-kk-005", "exp-ru-005"), ("exp-ru-006", "exp-ky-005"), ("exp-kk-006", "exp-ky-006"),
         ("exp-ru-013", "exp-ky-014"), ("exp-kk-014", "exp-ky-019"), ("exp-kk-015", "exp-ky-018")]


def test_classification_accuracy_on_sample_experiences(bank_kb: KnowledgeBase) -> None:
    experiences = bank_kb.bank.select(limit=500)
    vectors = [bank_kb.text_vector("\n".join(c.text for c in bank_kb.backend.document_chunks(e.id)))
               for e in experiences]
    report = evaluate_classifier(bank_kb.classifier, experiences, vectors)
    # recorded: top-1 0.889, top-3 0.986 (docs/knowledge_base.md); fail on a clear regression
    assert report.top1 >= 0.85 and report.top3 >= 0.95, report.table()
    assert all(top3 >= 0.9 for _, _, top3 in report.by_language.values()), report.table()


def test_each_project_finds_its_counterpart_in_another_language(bank_kb: KnowledgeBase) -> None:
    found = 0
    for a, b in PAIRS:
        for source, target in ((a, b), (b, a)):
            ids = [i.doc_id for i in bank_kb.similar(exp_id=source, k=3, kinds=("experience",))]
            found += target in ids
    assert found >= 23, f"{found} of {2 * len(PAIRS)} counterparts in the top 3"


def test_kyrgyz_project_description_finds_similar_past_projects(bank_kb: KnowledgeBase) -> None:
    text = ("Мугалимдер ар бир чейрек сайын бир сабакты чогуу пландап, бири сабак өтүп, калгандары "
            "окуучулардын кантип үйрөнүп жатканын байкашат, андан кийин сабакты талкуулап, жакшыртышат.")
    items = bank_kb.similar(text=text, k=5, kinds=("experience",))
    ids = [i.doc_id for i in items]
    assert {"exp-kk-002", "exp-ru-002"} & set(ids[:3]), ids
    assert any(i.lang != "ky" for i in items)


def test_kazakh_passages_are_classified_into_the_right_group(bank_kb: KnowledgeBase) -> None:
    project = ("Оқушылар топта жоба тақырыбын таңдап, жоспар құрып, ақпарат жинап, өнім жасап, "
               "жобаны сынып алдында қорғады.")
    best = bank_kb.classify(project, k=3)
    assert (best[0].technology_id, best[0].group_id) == ("project-method", "interactive"), [s.to_dict() for s in best]
    # known weaknesses (docs/knowledge_base.md): a research project that never says "research" comes out as
    # debates first, and pupils teaching each other as modular learning first; the right answers are in the top 3
    water = ("Оқушылар топ болып ауылдағы ауыз су мәселесін зерттеді: сауалнама жүргізіп, су үлгілерін алып, "
             "нәтижесін постер мен баяндама түрінде ата-аналар алдында қорғады.")
    assert "research-inquiry" in [s.technology_id for s in bank_kb.classify(water, k=3)]
    jigsaw = ("Сабақта оқушылар шағын топтарға бөлініп, әр топ өз бөлігін зерттейді де, кейін басқа топтарға "
              "түсіндіреді; мұғалім тек бағыт береді, ал оқушылар бір-бірін оқытады.")
    assert "collective-learning" in [s.technology_id for s in bank_kb.classify(jigsaw, k=3)]


def test_russian_technique_description_finds_kazakh_and_kyrgyz_experiences(bank_kb: KnowledgeBase) -> None:
    text = "Учитель даёт видеоурок на дом, а на уроке ученики решают задачи и ставят опыты"
    hits = bank_kb.search(text, k=8, kinds=["experience"])
    assert {"kk", "ky"} <= {h.chunk.lang for h in hits}, [(h.document.doc_id, round(h.score, 3)) for h in hits]
    similar = bank_kb.similar(text=text, k=5, kinds=("experience",))
    ids = [i.doc_id for i in similar]
    # the flipped-classroom projects; exp-ky-014 (video lessons at home) may rank first with 128-token chunks
    assert "exp-ru-005" in ids[:2] and "exp-kk-005" in ids, ids
    assert {"kk", "ky"} <= {i.lang for i in similar}
