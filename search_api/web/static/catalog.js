// Names for the ids the API returns (technologies, groups, regions, subjects, classification values).

/** Which language's name is shown when the reader's is missing: the page's language, then these (docs/widget.md). */
export const NAME_FALLBACK = ["ru", "kk", "ky", "en"];

/** The name in `lang`, else in Russian, Kazakh, Kyrgyz, English (the first that exists), else `fallback`. */
export function nameOf(labels, lang, fallback = "") {
  if (!labels) return fallback;
  for (const code of [lang, ...NAME_FALLBACK]) if (labels[code]) return labels[code];
  return fallback;
}

/**
 * An item's title in the reader's language: its `titles` map ({kk, ru, ky, en}) when the API gives one, picked in the
 * order of nameOf; else its single `title`; else `fallback`. Returns [text, the language it is in (or null)].
 */
export function titleIn(item, lang, fallback = "") {
  const titles = item && typeof item.titles === "object" && item.titles ? item.titles : null;
  if (titles) {
    for (const code of [lang, ...NAME_FALLBACK]) if (titles[code]) return [titles[code], code];
  }
  return [item?.title || fallback, item?.title ? item.lang || null : null];
}

export class Catalog {
  constructor(tree, vocabulary) {
    this.groups = tree.groups;
    this.technologies = new Map();
    this.groupById = new Map();
    for (const group of tree.groups) {
      this.groupById.set(group.id, group);
      for (const tech of group.technologies) this.technologies.set(tech.id, tech);
    }
    this.regions = vocabulary.regions;
    this.subjects = vocabulary.subjects;
    this.regionById = new Map(vocabulary.regions.map((r) => [r.id, r]));
    this.subjectById = new Map(vocabulary.subjects.map((s) => [s.id, s]));
    this.classifications = new Map(vocabulary.classifications.map((c) => [c.id, c]));
  }

  /** Load the technology tree and the vocabulary once. */
  static async load(api) {
    const [tree, vocabulary] = await Promise.all([api.technologies(), api.vocabulary()]);
    return new Catalog(tree, vocabulary);
  }

  tech(id, lang) { return nameOf(this.technologies.get(id)?.labels, lang, id); }
  group(id, lang) { return nameOf(this.groupById.get(id)?.labels, lang, id); }
  region(id, lang) { return nameOf(this.regionById.get(id)?.labels, lang, id); }
  subject(id, lang) { return nameOf(this.subjectById.get(id)?.labels, lang, id); }
  kindName(kind, lang) { return nameOf(this.classifications.get(kind)?.labels, lang, kind); }
  values(kind) { return this.classifications.get(kind)?.values || []; }
  value(kind, id, lang) {
    const found = this.values(kind).find((v) => v.id === id);
    return nameOf(found?.labels, lang, id);
  }
}

