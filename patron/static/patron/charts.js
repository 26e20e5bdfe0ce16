// The Dashboard's charts. Figures come from <script type="application/json" id="chart-data">
// (json_script); each <canvas data-chart="NAME"> draws one of them.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colours = ["#2563eb", "#16a34a", "#dc2626", "#f59e0b", "#7c3aed", "#db2777", "#0891b2"];
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const name = canvas.dataset.chart;
    const figures = data[name];
    if (!figures) return;
    if (figures.datasets) {
      new Chart(canvas, {
        type: "line",
        data: {
          labels: figures.labels,
          datasets: figures.datasets.map((set, i) => ({ ...set, borderColor: colours[i], backgroundColor: colours[i], tension: 0.2 })),
        },
        options: { animation: false, responsive: true },
      });
    } else {
      new Chart(canvas, {
        type: name === "coupons" || name === "redeemed" ? "bar" : "doughnut",
        data: { labels: figures.labels, datasets: [{ data: figures.data, backgroundColor: colours }] },
        options: { animation: false, responsive: true, plugins: { legend: { display: name !== "coupons" && name !== "redeemed" } } },
      });
    }
  });
});
