// Fills the editor panels of a page view from /panels/<path>?fragment=1 (server-rendered, escaped HTML).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-panels]");
  if (!box) return;
  fetch(box.dataset.panels + "?fragment=1", { headers: { Accept: "text/html" } })
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status))))
    .then((html) => { box.innerHTML = html; box.classList.add("loaded"); })
    .catch((err) => { box.querySelector(".loading").textContent = "Could not load the editor panels (" + err.message + ")."; });
});
