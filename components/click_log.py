"""Buttons (and their keyboard shortcuts) whose every click reaches the server once, in order: no click is lost
when Streamlit merges the rerun requests of quick clicks.

Why: a Streamlit button is a trigger. Two clicks of one button that reach the server while a run is pending
merge into one rerun with the trigger set once, so one click is lost (at load 20, ten Next clicks 400 ms apart
moved 7 records). Here the browser keeps a log of clicks, each with a sequence number and the context the page
showed when it was made (e.g. the row on screen), and sends the whole unacknowledged log as the component's
state. Streamlit keeps the newest state when it merges requests, and the newest log holds every click not yet
applied, so merged requests lose nothing. The server applies the clicks past its acknowledgement, in order,
and sends the acknowledgement back with the next render, so the browser can drop them.

Use: `new_clicks(key)` once at the top of the run (before drawing what the clicks change), then
`click_buttons(key, items, context)` where the buttons belong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

_JS = """
const logs = new Map();  // per component key: {nonce, seq, pending, context, onKey}; lives as long as the page

// A radio, checkbox or button input keeps focus after a click (e.g. the sample method) but takes no letters:
// shortcuts still work there. Text, number and date inputs, text areas and selects take the letters.
const KEYLESS_INPUTS = ['radio', 'checkbox', 'button', 'submit', 'reset', 'range', 'color', 'file', 'image'];
const editable = (el) => !!el && (el.isContentEditable || ['TEXTAREA', 'SELECT'].includes(el.tagName)
  || (el.tagName === 'INPUT' && !KEYLESS_INPUTS.includes((el.type || '').toLowerCase()))
  || ['combobox', 'textbox', 'listbox', 'option'].includes(el.getAttribute && el.getAttribute('role')));

export default function (component) {
  const { data, key, parentElement, setStateValue } = component;
  let log = logs.get(key);
  if (!log) {
    log = {nonce: Math.random().toString(36).slice(2) + Date.now().toString(36), seq: 0, pending: []};
    logs.set(key, log);
  }
  const ack = data.ack || {};
  if (ack.nonce === log.nonce) log.pending = log.pending.filter(e => e[0] > ack.seq);
  log.context = data.context;
  const click = (name) => {
    log.seq += 1;
    log.pending.push([log.seq, name, log.context]);
    setStateValue('clicks', {nonce: log.nonce, events: log.pending.slice()});
  };

  // Built once and then updated in place: a button replaced between mouse down and up would lose the click.
  let root = parentElement.querySelector('.click-log');
  if (!root) {
    root = document.createElement('div');
    root.className = 'click-log';
    parentElement.appendChild(root);
  }
  const items = data.items || [];
  while (root.children.length > items.length) root.lastChild.remove();
  items.forEach((item, i) => {
    const tag = item.name ? 'button' : 'span';
    let el = root.children[i];
    if (!el || el.tagName !== tag.toUpperCase()) {
      const fresh = document.createElement(tag);
      el ? root.replaceChild(fresh, el) : root.appendChild(fresh);
      el = fresh;
    }
    el.textContent = item.label;
    el.className = item.name ? (item.primary ? 'primary' : 'secondary') : 'text';
    if (item.name) {
      el.type = 'button';
      el.disabled = !!item.disabled;
      el.title = item.help || '';
      el.onclick = () => click(item.name);
    }
  });

  const shortcuts = Object.fromEntries(items.filter(i => i.name && i.shortcut && !i.disabled)
    .map(i => [i.shortcut.toLowerCase(), i.name]));
  if (log.onKey) document.removeEventListener('keydown', log.onKey);
  const onKey = (e) => {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (editable(e.composedPath()[0]) || editable(document.activeElement)) return;
    const name = shortcuts[(e.key || '').toLowerCase()];
    if (name) { e.preventDefault(); click(name); }
  };
  log.onKey = onKey;
  document.addEventListener('keydown', onKey);
  return () => {
    document.removeEventListener('keydown', onKey);
    if (log.onKey === onKey) log.onKey = null;
  };
}
"""

# Streamlit's button look, from the theme's variables.
_CSS = """
.click-log { display: flex; align-items: center; gap: 0.75rem; font-family: var(--st-font);
  font-size: var(--st-base-font-size); color: var(--st-text-color); }
.click-log button { flex: 1 1 0; min-height: 2.5rem; padding: 0.25rem 0.75rem; font: inherit; cursor: pointer;
  border-radius: var(--st-button-radius); border: 1px solid var(--st-border-color);
  background: var(--st-background-color); color: var(--st-text-color); white-space: nowrap; }
.click-log button:hover:not(:disabled) { border-color: var(--st-primary-color); color: var(--st-primary-color); }
.click-log button:active:not(:disabled) { background: var(--st-primary-color); color: #fff; }
.click-log button.primary { background: var(--st-primary-color); border-color: var(--st-primary-color); color: #fff; }
.click-log button.primary:hover:not(:disabled) { filter: brightness(0.92); color: #fff; }
.click-log button:disabled { opacity: 0.45; cursor: not-allowed; }
.click-log button:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
.click-log .text { flex: 2 1 0; text-align: center; font-weight: 600; white-space: nowrap; }
"""

_component = st.components.v2.component("review_desk.click_log", js=_JS, css=_CSS)
STATE = "clicks"  # the component's state: {"nonce": str, "events": [[seq, name, context], ...]}


@dataclass(frozen=True)
class Click:
    """One click: the button's name and the context the page showed when it was made."""

    name: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """A button of a click log: `name` is what a click reports; `shortcut` a key that clicks it."""

    name: str
    label: str
    shortcut: str = ""
    help: str = ""
    primary: bool = False
    disabled: bool = False


def _ack_key(key: str) -> str:
    return f"_{key}_ack"


def unapplied_clicks(state: Any, ack: dict | None) -> tuple[list[Click], dict]:
    """The clicks of a browser log `state` past the acknowledgement `ack`, oldest first, and the new
    acknowledgement. A log from another page load (another nonce) starts from its first click."""
    clicks = state.get(STATE) if hasattr(state, "get") else None
    ack = dict(ack or {"nonce": None, "seq": 0})
    if not isinstance(clicks, dict) or not clicks.get("nonce"):
        return [], ack
    last = ack["seq"] if ack.get("nonce") == clicks["nonce"] else 0
    found = []
    events = [e for e in clicks.get("events") or [] if isinstance(e, list) and len(e) == 3
              and isinstance(e[0], int) and not isinstance(e[0], bool)]
    for seq, name, context in sorted(events, key=lambda e: e[0]):
        if seq > last:
            found.append(Click(str(name), context if isinstance(context, dict) else {}))
            last = seq
    return found, {"nonce": clicks["nonce"], "seq": last}


def new_clicks(key: str) -> list[Click]:
    """The clicks on the buttons mounted under `key` that this session has not applied yet, oldest first; each
    is returned once (call it once per run, before drawing what the clicks change)."""
    found, ack = unapplied_clicks(st.session_state.get(key), st.session_state.get(_ack_key(key)))
    st.session_state[_ack_key(key)] = ack
    return found


def click_buttons(key: str, items: list[Button | str], context: dict | None = None) -> None:
    """Buttons and texts in a row (a str is a text between buttons); a click reports its button's name and
    `context` (what the page shows now, e.g. the row on screen: JSON values)."""
    spec = [{"label": item} if isinstance(item, str) else
            {"name": item.name, "label": item.label, "shortcut": item.shortcut, "help": item.help,
             "primary": item.primary, "disabled": item.disabled} for item in items]
    _component(key=key, data={"items": spec, "context": context or {}, "ack": st.session_state.get(_ack_key(key))},
               default={STATE: None}, on_clicks_change=_rerun_here, height="content")


def _rerun_here() -> None:
    """A click reruns the run (or fragment) the buttons are in; new_clicks reads it there."""
