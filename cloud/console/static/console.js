// fuelwatch console: progressive enhancement only; every page works without this file.
"use strict";

// Forms that end something (close, escalate) ask once before they post.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// "Copy" next to each query: puts the exact statement on the clipboard.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) {
      return;
    }
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = button.dataset.done || button.textContent;
  });
}

// A file input lists what was picked, so a keyboard or screen-reader user hears it.
for (const input of document.querySelectorAll("input[type=file][data-list]")) {
  const list = document.getElementById(input.dataset.list);
  input.addEventListener("change", () => {
    if (list) {
      list.textContent = Array.from(input.files, (f) => `${f.name} (${Math.ceil(f.size / 1024)} KB)`).join(", ");
    }
  });
}

// Parts that take the server longer (the reconciliation reads every gauge reading) load
// after the page; without this script their link opens them as a page of their own.
for (const part of document.querySelectorAll("[data-fragment]")) {
  fetch(part.dataset.fragment, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      part.innerHTML = html;
      part.setAttribute("aria-busy", "false");
      part.dataset.loaded = "true";
    })
    .catch(() => {
      part.setAttribute("aria-busy", "false");
    });
}
