// jmb: small comforts only; every page works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="#input-id">
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.querySelector(button.dataset.copy);
      if (!target) return;
      try {
        await navigator.clipboard.writeText(target.value || target.href || target.textContent);
        button.dataset.done = "1";
        // Said to screen readers too, through the layout's status region.
        const live = document.getElementById("live");
        if (live) {
          live.textContent = "";
          setTimeout(() => { live.textContent = live.dataset.copied; }, 50);
        }
      } catch (_) {
        target.select && target.select();
      }
    });
  }
  // Confirmation before destructive submits: <form data-confirm="question">
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
// Booking form: after a refused submit, bring the error summary into view and focus for screen readers.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
});
// Times: the server writes them in the site's zone, named (right without JavaScript); here they are
// rewritten into the visitor's own zone, with the site's (the organiser's) beside them when the zones
// differ. Only the numbers come from here: every word comes from the page.
document.addEventListener("DOMContentLoaded", () => {
  let zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (_) {
    return;
  }
  if (!zone) return;
  const locale = document.documentElement.lang === "en" ? "en-GB" : "fr-FR";
  const day = new Intl.DateTimeFormat(locale, {
    weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: zone,
  });
  const hm = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
  for (const el of document.querySelectorAll("time[data-local]")) {
    if (el.dataset.zone === zone) continue;
    const start = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(start.getTime())) continue;
    if (el.dataset.end) {
      const end = new Date(el.dataset.end);
      el.textContent = `${day.format(start)}, ${hm.format(start)} – ${hm.format(end)} (${zone})`;
    } else {
      el.textContent = `${day.format(start)} ${el.dataset.at} ${hm.format(start)} (${zone})`;
    }
    el.dataset.shownZone = zone;
    const site = el.nextElementSibling;
    if (site && site.classList.contains("site-time")) site.hidden = false;
  }
});
// "Not started yet": a countdown instead of a page that reloads itself (WCAG 2.2.1); when the time
// comes, the reload link becomes the way in and a polite live region says so.
document.addEventListener("DOMContentLoaded", () => {
  const timer = document.getElementById("countdown");
  if (!timer) return;
  const opens = new Date(timer.dataset.opens).getTime();
  if (Number.isNaN(opens)) return;
  const line = document.getElementById("countdown-line");
  const link = document.getElementById("join-link");
  const opened = document.getElementById("opened");
  for (const hint of document.querySelectorAll(".no-script")) hint.hidden = true;
  line.hidden = false;
  let id = 0;
  const two = (n) => String(n).padStart(2, "0");
  const tick = () => {
    const left = Math.max(0, Math.ceil((opens - Date.now()) / 1000));
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    timer.textContent = `${h ? `${h} h ` : ""}${two(m)} min ${two(left % 60)} s`;
    if (left === 0) {
      clearInterval(id);
      line.hidden = true;
      opened.textContent = opened.dataset.text;
      link.textContent = link.dataset.readyLabel;
      link.classList.remove("secondary");
    }
  };
  id = setInterval(tick, 1000);
  tick();
});
// After a form: focus the confirmation (it is also a status or alert region), or the field in error.
document.addEventListener("DOMContentLoaded", () => {
  const confirmation = document.getElementById("confirmation");
  if (confirmation) {
    confirmation.focus();
    return;
  }
  const noteError = document.getElementById("note-err");
  if (noteError) document.getElementById("note")?.focus();
});
// The language switch keeps what was typed: the page's fields are kept for this tab just before the
// switch and put back once, when the same page comes back in the other language.
document.addEventListener("DOMContentLoaded", () => {
  const key = `jmb-typed:${location.pathname}${location.search}`;
  const fields = () => [...document.querySelectorAll("main form input[id], main form textarea[id], main form select[id]")]
    .filter((f) => f.type !== "hidden" && !f.readOnly);
  try {
    const saved = sessionStorage.getItem(key);
    if (saved) {
      sessionStorage.removeItem(key);
      const values = JSON.parse(saved);
      for (const f of fields()) if (f.id in values) f.value = values[f.id];
    }
  } catch (_) { /* storage refused: nothing to restore */ }
  const switcher = document.querySelector('form[action="/lang"]');
  if (!switcher) return;
  switcher.addEventListener("submit", () => {
    // Back to this very page, query string included (the server keeps only paths on this site).
    const next = switcher.querySelector('input[name="next"]');
    if (next) next.value = location.pathname + location.search;
    const values = {};
    for (const f of fields()) if (f.value !== f.defaultValue) values[f.id] = f.value;
    try {
      if (Object.keys(values).length) sessionStorage.setItem(key, JSON.stringify(values));
    } catch (_) { /* storage refused: the switch still works */ }
  });
});
// Booking form: address completion from the directory (the form works without it). A search field
// with a <datalist> of suggestions; the buttons add the chosen person to the moderators or guests.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("dir-search");
  if (!box) return;
  const input = document.getElementById("dir-q");
  const list = document.getElementById("dir-results");
  const status = document.getElementById("dir-status");
  box.hidden = false;
  let timer;
  let asked = "";
  const people = new Map();
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || people.has(q.toLowerCase())) return;
    timer = setTimeout(async () => {
      if (q === asked) return;
      asked = q;
      try {
        const resp = await fetch(box.dataset.api + "?q=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (!resp.ok) return;
        const body = await resp.json();
        if (!body.available) {
          status.textContent = box.dataset.down;
          return;
        }
        status.textContent = "";
        list.replaceChildren();
        for (const p of body.results) {
          const line = p.name ? `${p.name} <${p.mail}>` : p.mail;
          people.set(line.toLowerCase(), line);
          const option = document.createElement("option");
          option.value = line;
          list.append(option);
        }
      } catch (_) {
        status.textContent = box.dataset.down;
      }
    }, 250);
  });
  for (const button of box.querySelectorAll("button[data-dir-add]")) {
    button.addEventListener("click", () => {
      const value = input.value.trim();
      const target = document.querySelector(button.dataset.dirAdd);
      if (!value || !target) return;
      const name = value.replace(/\s*<[^>]*>$/, "");
      const quoted = /[,;"@]/.test(name) && value.includes("<")
        ? `"${name.replace(/["\\]/g, "\\$&")}" ${value.slice(value.lastIndexOf("<"))}`
        : value;
      target.value = target.value.trim() ? `${target.value.trim()}\n${quoted}` : quoted;
      input.value = "";
      input.focus();
    });
  }
});
