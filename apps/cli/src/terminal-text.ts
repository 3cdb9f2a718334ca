// What the CLI prints comes partly from nodes and tenants (host names,
// inventory strings, event messages, reasons): text an attacker on a node can
// choose. A terminal acts on control characters in it: ESC sequences retitle
// the window (OSC 0), clear the screen, move the cursor to overwrite lines,
// write to the clipboard (OSC 52) or forge links (OSC 8). Everything the CLI
// writes passes through here and leaves with those characters spelled out
// (\x1b, \x9b, \u202e), so it reads as text and does nothing.

/**
 * C0 controls but newline and tab (\r too: it rewrites the line), DEL, C1 controls (U+0080-U+009F,
 * CSI among them), and the bidirectional overrides and isolates that reorder what is shown.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const spelled = (char: string) => {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** Text for a terminal, control characters spelled out (newlines and tabs kept). */
export function inertText(text: string): string {
  return text.replace(unsafe, spelled);
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 itself but leaves DEL, C1 and the bidi controls raw;
 * these are escaped the JSON way (\u009b), so the output is the same JSON value, only inert.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(unsafe, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
