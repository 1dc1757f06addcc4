// Forms made with the GOV.UK patterns, enhanced when JavaScript runs (each works without it):
// - an error summary (`[data-focus]`) takes the focus when the page loads, so a screen reader
//   reads it first; its links move the focus to the field they name (the first control of a
//   group of choices);
// - a checkbox with `data-reveals="id"` shows the panel with that id only while it is ticked
//   (without JavaScript the panel is always shown, and the server ignores it unless ticked).

function focusField(id) {
  const target = document.getElementById(id);
  if (!target) return false;
  const control = target.matches("input, select, textarea, button")
    ? target
    : target.querySelector("input, select, textarea");
  if (!control) return false;
  const label = document.querySelector(`label[for="${control.id}"]`);
  const legend = target.closest("fieldset")?.querySelector("legend");
  (legend || label || control).scrollIntoView({ block: "start" });
  control.focus({ preventScroll: true });
  return true;
}

for (const summary of document.querySelectorAll("[data-focus]")) {
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (link && focusField(link.getAttribute("href").slice(1))) event.preventDefault();
  });
  break;
}

for (const box of document.querySelectorAll("input[type=checkbox][data-reveals]")) {
  const panel = document.getElementById(box.dataset.reveals);
  if (!panel) continue;
  const show = () => {
    panel.hidden = !box.checked;
    box.setAttribute("aria-expanded", String(box.checked));
  };
  box.addEventListener("change", show);
  show();
}
