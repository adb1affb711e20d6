// Draws the lifecycle diagrams (Mermaid, served from this site: no CDN).
if (window.mermaid) {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  window.mermaid.run({ querySelector: "pre.mermaid" });
}
