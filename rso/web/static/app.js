// Draws the lifecycle diagram (Mermaid, served from this site: no CDN) when it is opened: drawn
// while folded away it would have no size.
if (window.mermaid) {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  const folded = document.getElementById("diagram-details");
  const draw = () => window.mermaid.run({ querySelector: "pre.mermaid" });
  if (folded && !folded.open) {
    folded.addEventListener("toggle", function once() {
      if (folded.open) { folded.removeEventListener("toggle", once); draw(); }
    });
  } else {
    draw();
  }
}
// What is ticked in a long list of boxes, said above it (the ticked ones may be out of view).
for (const set of document.querySelectorAll("fieldset.choices.many")) {
  const line = set.querySelector(".chosen");
  if (!line) continue;
  const update = () => {
    const names = [...set.querySelectorAll("input:checked")].map((b) => b.parentElement.textContent.trim());
    line.textContent = names.length ? line.dataset.prefix + " " + names.join(", ") : line.dataset.none;
  };
  set.addEventListener("change", update);
}
// A list's filter form sends only what is chosen, so that the address it makes is short enough
// to read and share (an empty field and the default order say nothing). Without script, the
// long address works the same.
for (const form of document.querySelectorAll("form.filters")) {
  // The filters fold away on a phone (the list comes first); wider, they are all in view.
  const more = form.querySelector("details.more-filters");
  if (more && window.matchMedia("(min-width: 641px)").matches) more.open = true;
  form.addEventListener("submit", () => {
    for (const el of form.querySelectorAll("input[name], select[name]")) {
      if (!el.value.trim() || (el.name === "sort" && el.value === el.dataset.default)) el.disabled = true;
    }
  });
  // Back to this page from the next (the browser's page cache): every field usable again.
  window.addEventListener("pageshow", () => {
    for (const el of form.querySelectorAll("[disabled]")) el.disabled = false;
  });
}
