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
.foot { margin: 0.75em 0 0; font-size: 0.8em; color: #46515c; text-align: end; }
.foot a { color: #0b4f8a; }
`;
