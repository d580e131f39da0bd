// The styles of result cards, badges and tags, shared by the page (document) and the widget (shadow root).
// Sizes are in em, not rem: inside a portal's page, rem would follow the portal's root font size.

export const CARD_CSS = `
.vh { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  clip-path: inset(50%); white-space: nowrap; border: 0; padding: 0; margin: -1px; }
.results { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.75em; }
.card { background: #fff; border: 1px solid #cfd6de; border-radius: 8px; padding: 0.8em 1em; min-width: 0; }
.card-meta { display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; font-size: 0.8em; }
.card-langs { display: inline-flex; gap: 0.25em; }
.card-title { font-size: 1.05em; line-height: 1.35; margin: 0.35em 0 0.25em; overflow-wrap: anywhere; }
.card-title a { color: #0b4f8a; text-decoration: underline; text-underline-offset: 2px; }
.card-title a:hover { color: #07345c; }
.snippet { margin: 0.25em 0; color: #1b1f24; line-height: 1.5; overflow-wrap: anywhere; }
.card-extra { margin: 0.35em 0 0; font-size: 0.85em; color: #46515c; overflow-wrap: anywhere; }
mark { background: #ffe27a; color: #1b1f24; padding: 0 0.1em; border-radius: 2px; }
.badge, .tag, .page { display: inline-block; border-radius: 4px; padding: 0.05em 0.45em; font-weight: 600;
  line-height: 1.4; font-size: 0.95em; }
.badge { letter-spacing: 0.04em; border: 1px solid currentColor; }
.lang-kk { background: #e7f0ff; color: #0a3d8f; }
.lang-ru { background: #fdeceb; color: #8c1d13; }
.lang-ky { background: #fff1dc; color: #784300; }
.lang-en, .lang-other { background: #eef0f2; color: #333c45; }
.tag-experience { background: #dff3e6; color: #125a30; }
.tag-technology { background: #eee7fb; color: #4a2a8a; }
.tag-document { background: #e8ecf1; color: #2c3947; }
.page { background: #f3f4f6; color: #333c45; border: 1px dashed #7a858f; }
.scanned { background: #fff8e1; color: #5c4300; border: 1px solid #b08800; }
.scanned-low { background: #fdeceb; color: #8c1d13; border-style: dashed; }
`;
