// The managers' dashboard: fetches its figures from the app's own JSON every N seconds and updates the
// page in place (no full reload). Numbers go in [data-field] elements; each table with [data-rows] is
// rebuilt from the JSON array of that name, its cells the [data-columns] keys in order (a link where the
// row gives the key's `<key>_href`).
const container = document.querySelector("[data-dashboard]");

function londonTime(iso) {
  return new Date(iso).toLocaleString("en-GB", {
    timeZone: "Europe/London", weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

function setField(element, value) {
  const format = element.dataset.format;
  const text = value == null ? "—" : format === "time" ? londonTime(value) : String(value);
  if (element.textContent !== text) {
    element.textContent = text;
    if (format !== "time") {
      element.classList.remove("flash-update");
      void element.offsetWidth; // restart the highlight
      element.classList.add("flash-update");
    }
  }
}

function cellText(row, key, table) {
  const value = row[key];
  if (value == null) return table.dataset.null || "—";
  if (table.dataset.signed === key && typeof value === "number") return (value > 0 ? "+" : "") + value;
  return String(value);
}

function fillTable(table, rows) {
  const columns = table.dataset.columns.split(",");
  const body = table.tBodies[0];
  const fresh = document.createElement("tbody");
  if (!rows.length) {
    const tr = fresh.insertRow();
    const td = tr.insertCell();
    td.colSpan = columns.length;
    td.textContent = table.dataset.empty || "None.";
  }
  for (const row of rows) {
    const tr = fresh.insertRow();
    columns.forEach((key, index) => {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) cell.scope = "row";
      else cell.className = "num";
      const href = row[key + "_href"];
      if (href && row[key]) {   // a figure with complaints behind it links to their list
        const link = document.createElement("a");
        link.href = href;
        link.textContent = cellText(row, key, table);
        cell.appendChild(link);
      } else {
        cell.textContent = cellText(row, key, table);
      }
      tr.appendChild(cell);
    });
  }
  if (body.innerHTML !== fresh.innerHTML) table.replaceChild(fresh, body);
}

async function refresh() {
  const error = container.querySelector('[data-field="error"]');
  try {
    const response = await fetch(container.dataset.source, {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store",
    });
    if (response.redirected || !response.ok) throw new Error(response.status === 200 ? "signed out" : String(response.status));
    const board = await response.json();
    for (const element of container.querySelectorAll("[data-field]")) {
      const name = element.dataset.field;
      if (name !== "error" && name in board) setField(element, board[name]);
    }
    for (const table of container.querySelectorAll("table[data-rows]")) {
      const rows = board[table.dataset.rows];
      if (Array.isArray(rows)) fillTable(table, rows);
    }
    if (error) error.textContent = "";
    container.dataset.updated = board.at;
  } catch (problem) {
    if (error) error.textContent = " The figures could not be refreshed (" + problem.message + "); showing the last ones.";
  }
}

if (container) {
  const seconds = Math.max(5, Number(container.dataset.refresh) || 30);
  let timer = setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    clearInterval(timer);
    if (!document.hidden) {
      refresh();
      timer = setInterval(refresh, seconds * 1000);
    }
  });
  container.dataset.ready = "true";
}
