// The widget's own styles, inside its shadow root: nothing reaches the portal's page, and `all: initial` keeps
// the portal's inherited fonts and colours out.

export const WIDGET_CSS = `
:host { all: initial; display: block; contain: content; color: #1b1f24; text-align: start;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", "Liberation Sans", Arial,
    sans-serif;
  font-size: 16px; line-height: 1.5; }
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: border-box; }
.pk { background: #f5f6f8; border: 1px solid #cfd6de; border-radius: 10px; padding: 0.9em; }
form { margin: 0; }
label { display: block; font-weight: 600; margin: 0 0 0.3em; }
.row { display: flex; gap: 0.5em; }
input { flex: 1; min-width: 0; font: inherit; color: inherit; padding: 0.45em 0.6em; border: 1px solid #6b7682;
  border-radius: 6px; background: #fff; min-height: 2.5em; }
button { font: inherit; font-weight: 600; cursor: pointer; border-radius: 6px; min-height: 2.5em;
  padding: 0.4em 1em; border: 1px solid #0b4f8a; }
button.go { background: #0b4f8a; color: #fff; }
button.go:hover { background: #07345c; }
button.more { background: #fff; color: #0b4f8a; margin-top: 0.75em; }
:focus-visible { outline: 3px solid #c2410c; outline-offset: 2px; }
.status { min-height: 1.5em; margin: 0.6em 0; font-weight: 600; color: #46515c; }
.error { border-radius: 8px; padding: 0.6em 0.9em; margin: 0.5em 0; background: #fdeceb; color: #8c1d13;
  border: 1px solid #8c1d13; }
.error:empty { display: none; }
[hidden] { display: none !important; }
.tabs { display: flex; gap: 0.4em; margin: 0 0 0.8em; }
button.tab { background: #fff; color: #0b4f8a; }
button.tab[aria-pressed="true"] { background: #0b4f8a; color: #fff; }
.field { margin: 0 0 0.6em; }
textarea { display: block; width: 100%; font: inherit; color: inherit; padding: 0.45em 0.6em; background: #fff;
  border: 1px solid #6b7682; border-radius: 6px; resize: vertical; }
.hint { font-size: 0.85em; color: #46515c; margin: 0.3em 0; }
.dropzone { border: 2px dashed #6b7682; border-radius: 8px; padding: 0.6em 0.8em; margin: 0.6em 0; background: #fff; }
.dropzone.over { border-color: #0b4f8a; background: #e8f1fa; }
.dropzone .label { font-weight: 600; margin: 0 0 0.3em; }
.dropzone:focus-within { outline: 3px solid #c2410c; outline-offset: 2px; }
button.primary { background: #0b4f8a; color: #fff; }
button.secondary { background: #fff; color: #0b4f8a; }
button.small { min-height: 2em; padding: 0.2em 0.7em; font-size: 0.9em; }
.actions { margin: 0.5em 0 0; }
.error-box:empty, .notice:empty { display: none; }
.error-box { border-radius: 8px; padding: 0.6em 0.9em; margin: 0.5em 0; background: #fdeceb; color: #8c1d13;
  border: 1px solid #8c1d13; }
.chips { list-style: none; padding: 0; margin: 0.3em 0; display: flex; flex-wrap: wrap; gap: 0.4em; }
.chips a { display: inline-block; padding: 0.15em 0.6em; border-radius: 999px; background: #efe9fb; color: #4c2a85;
  text-decoration: none; }
h3 { font-size: 1.05em; margin: 0.8em 0 0.3em; }
.sim-results .reason, .sim-results .snippet { margin: 0.3em 0; }
.sim-results .score { color: #46515c; font-size: 0.85em; }
.foot { margin: 0.75em 0 0; font-size: 0.8em; color: #46515c; text-align: end; }
.foot a { color: #0b4f8a; }
`;
