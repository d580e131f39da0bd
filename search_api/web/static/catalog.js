// Names for the ids the API returns (technologies, groups, regions, subjects, classification values).

/** The name in `lang`, else Russian, else English, else the id. */
export function nameOf(labels, lang, fallback = "") {
  if (!labels) return fallback;
  return labels[lang] || labels.ru || labels.en || fallback;
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

