// Charts for the managers' figures: every <table data-chart="bar|pie"> gets a chart drawn from its own
// rows (Chart.js from the npm registry), so the table stays the accessible source of the numbers.
// [data-chart-columns] lists the columns (by index) to draw; the first column labels the rows.
import Chart from "chart.js/auto";

const COLOURS = ["#1d4e89", "#f4845f", "#00703c", "#6f3ab3", "#b58100", "#2e7fb8", "#b10e1e", "#505a5f", "#85994b"];

function number(text) {
  const value = Number(String(text).replace(/[£,%+\s]/g, ""));
  return Number.isFinite(value) ? value : null;
}

function drawChart(table) {
  const kind = table.dataset.chart;
  if (kind !== "bar" && kind !== "pie") return;
  const columns = (table.dataset.chartColumns || "1").split(",").map(Number);
  const headers = Array.from(table.tHead.rows[0].cells).map((cell) => cell.textContent.trim());
  const rows = Array.from(table.tBodies[0].rows).filter((row) => row.cells.length > 1);
  if (!rows.length) return;
  const labels = rows.map((row) => row.cells[0].textContent.trim());
  const datasets = columns.map((column, index) => ({
    label: headers[column],
    data: rows.map((row) => number(row.cells[column] ? row.cells[column].textContent : "")),
    backgroundColor: kind === "pie" ? labels.map((_, i) => COLOURS[i % COLOURS.length]) : COLOURS[index % COLOURS.length],
  }));
  const figure = document.createElement("figure");
  figure.className = "chart";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", (table.dataset.chartTitle || "Chart") + ": the same figures as the table below");
  figure.appendChild(canvas);
  const wrap = table.closest(".table-wrap") || table;
  wrap.parentNode.insertBefore(figure, wrap);
  new Chart(canvas, {
    type: kind,
    data: { labels, datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: kind === "pie" || datasets.length > 1, position: "bottom" } },
      scales: kind === "bar" ? { x: { ticks: { autoSkip: false, maxRotation: 60 } }, y: { beginAtZero: true } } : {},
    },
  });
  table.dataset.charted = "true";
}

for (const table of document.querySelectorAll("table[data-chart]")) {
  try {
    drawChart(table);
  } catch (error) {
    console.error("chart", table.dataset.chartTitle, error);
  }
}

for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
document.body.dataset.chartsReady = "true";
