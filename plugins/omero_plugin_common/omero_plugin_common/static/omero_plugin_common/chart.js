// A horizontal bar chart made of HTML (a list: readable by screen readers, selectable, no
// canvas), with a one-sentence summary above it that is its text alternative.
//
//   barChart(figure, items, {name: (i) => i.name, value: (i) => i.bytes, format: bytes,
//                            noun: "groups", limit: 10});

export function barChart(figure, items, { name, value, format = String, noun = "items",
                                          limit = 10, empty = "Nothing to show." }) {
  const total = items.reduce((sum, item) => sum + (value(item) || 0), 0);
  const ranked = items.slice().sort((a, b) => value(b) - value(a));
  const top = ranked.slice(0, limit);
  const rest = ranked.slice(limit);
  const rows = top.map((item) => ({ label: name(item), amount: value(item) || 0 }));
  if (rest.length) {
    rows.push({ label: `${rest.length} other ${noun}`,
                amount: rest.reduce((sum, item) => sum + (value(item) || 0), 0), other: true });
  }
  const max = Math.max(1, ...rows.map((r) => r.amount));
  const share = (amount) => (total ? Math.round((100 * amount) / total) : 0);

  const summary = document.createElement("p");
  summary.className = "chart-summary";
  summary.textContent = !items.length || !total ? empty
    : `${items.length} ${noun}, ${format(total)} in all; the largest, ${rows[0].label}, `
      + `holds ${format(rows[0].amount)} (${share(rows[0].amount)} %).`;
  const list = document.createElement("ol");
  list.className = "bar-chart";
  for (const row of total ? rows : []) {
    const li = document.createElement("li");
    if (row.other) li.className = "other";
    const label = document.createElement("span");
    label.className = "bar-label";
    label.textContent = row.label;
    label.title = row.label;
    const track = document.createElement("span");
    track.className = "bar-track";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.max(0.5, (100 * row.amount) / max)}%`;  // CSSOM: allowed by CSP
    track.append(bar);
    const amount = document.createElement("span");
    amount.className = "bar-value";
    amount.textContent = `${format(row.amount)} (${share(row.amount)} %)`;
    li.append(label, track, amount);
    list.append(li);
  }
  figure.querySelectorAll(".chart-summary, .bar-chart").forEach((n) => n.remove());
  figure.append(summary, list);
  figure.dataset.bars = String(total ? rows.length : 0);
}
