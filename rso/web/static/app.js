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
