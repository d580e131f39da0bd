// Interface strings of an experience's lifecycle timeline (view-experience.js), merged into strings.js's table;
// every language has every key.

export const STRINGS_LIFECYCLE = {
  kk: {
    history_title: "Тәжірибенің өмір жолы",
    history_none: "Кезеңдердің ауысуы әлі тіркелмеген.",
    history_by: "Тіркеген әдіскер",
    history_document: "Дәлел құжаты",
    history_reason: "Себебі",
    evidence_report: "Есеп",
    evidence_seminar: "Семинар",
    evidence_publication: "Жарияланым",
  },
  ru: {
    history_title: "Жизненный путь опыта",
    history_none: "Смена этапов ещё не записана.",
    history_by: "Записал методист",
    history_document: "Документ-подтверждение",
    history_reason: "Причина",
    evidence_report: "Отчёт",
    evidence_seminar: "Семинар",
    evidence_publication: "Публикация",
  },
  ky: {
    history_title: "Тажрыйбанын өмүр жолу",
    history_none: "Этаптардын алмашуусу азырынча жазылган эмес.",
    history_by: "Каттаган методист",
    history_document: "Далил документи",
    history_reason: "Себеби",
    evidence_report: "Отчет",
    evidence_seminar: "Семинар",
    evidence_publication: "Басылма",
  },
  en: {
    history_title: "The life of this experience",
    history_none: "No change of stage has been recorded yet.",
    history_by: "Recorded by",
    history_document: "Evidence document",
    history_reason: "Reason",
    evidence_report: "Report",
    evidence_seminar: "Seminar",
    evidence_publication: "Publication",
  },
};
