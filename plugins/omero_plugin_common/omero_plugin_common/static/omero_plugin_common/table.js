// A small data table for the plugin pages: sortable columns (buttons in the headers, aria-sort),
// an optional filter box, a "none" row when nothing is shown, and CSV export of what is shown.
// Plain ES module; the table's <thead> is built here from `columns`.
//
//   const t = dataTable(document.getElementById("users"), {
//     columns: [{key: "name", label: "User"}, {key: "bytes", label: "Size", numeric: true,
//                format: bytes}],
//     empty: "No users.", filter: inputElement, filterKeys: ["name"]});
//   t.setRows(rows);  t.csv("users.csv");

export function csvText(columns, rows) {
  const quote = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    // A leading = + - @ would run as a formula in a spreadsheet: prefix it with a quote.
    const safe = /^[=+\-@\t\r]/.test(s) && !/^-?[0-9.]+$/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  const lines = [columns.map((c) => quote(c.csvLabel || c.label)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => quote(row[c.key])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export function downloadText(name, text, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function dataTable(table, { columns, empty = "None.", filter = null, filterKeys = null,
                                   sort = null, rowAttrs = null }) {
  let rows = [];
  let order = sort || { key: columns[0].key, dir: columns[0].numeric ? "descending" : "ascending" };
  const thead = table.tHead || table.createTHead();
  const tbody = table.tBodies[0] || table.createTBody();
  const headRow = document.createElement("tr");
  const headers = columns.map((column) => {
    const th = document.createElement("th");
    th.scope = "col";
    if (column.numeric) th.className = "num";
    if (column.sortable === false) {
      th.textContent = column.label;
    } else {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = column.label;
      button.addEventListener("click", () => {
        const dir = order.key === column.key && order.dir === "ascending" ? "descending"
          : order.key === column.key ? "ascending" : column.numeric ? "descending" : "ascending";
        order = { key: column.key, dir };
        render();
      });
      th.append(button);
    }
    headRow.append(th);
    return th;
  });
  thead.replaceChildren(headRow);

  function visible() {
    const text = filter ? filter.value.trim().toLowerCase() : "";
    const keys = filterKeys || columns.map((c) => c.key);
    const shown = text ? rows.filter((r) => keys.some((k) => String(r[k] ?? "").toLowerCase()
      .includes(text))) : rows.slice();
    const column = columns.find((c) => c.key === order.key);
    const sign = order.dir === "ascending" ? 1 : -1;
    shown.sort((a, b) => {
      const x = a[order.key], y = b[order.key];
      if (column && column.numeric) return sign * ((x ?? -Infinity) - (y ?? -Infinity));
      return sign * String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
    });
    return shown;
  }

  function render() {
    headers.forEach((th, i) => {
      if (columns[i].key === order.key) th.setAttribute("aria-sort", order.dir);
      else th.removeAttribute("aria-sort");
    });
    const shown = visible();
    if (!shown.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = document.createElement("td");
      td.colSpan = columns.length;
      td.textContent = rows.length ? "None match the filter." : empty;
      tr.append(td);
      tbody.replaceChildren(tr);
    } else {
      tbody.replaceChildren(...shown.map((row) => {
        const tr = document.createElement("tr");
        if (rowAttrs) for (const [k, v] of Object.entries(rowAttrs(row))) tr.dataset[k] = v;
        for (const column of columns) {
          const td = document.createElement("td");
          if (column.numeric) td.className = "num";
          const value = column.render ? column.render(row) : column.format
            ? column.format(row[column.key], row) : row[column.key];
          if (value instanceof Node) td.append(value); else td.textContent = value ?? "–";
          tr.append(td);
        }
        return tr;
      }));
    }
    table.dataset.rows = String(shown.length);
  }

  if (filter) filter.addEventListener("input", render);
  render();
  return {
    setRows(next) { rows = next.slice(); render(); },
    visibleRows: visible,
    csv(name) { downloadText(name, csvText(columns, visible())); },
  };
}

// A table cell: text ("–" for none) or a node.
export function cell(content, className = "") {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "–";
  return td;
}

// A table's header row; a label starting with "_" is read by screen readers only.
export function header(table, labels) {
  const head = table.tHead || table.createTHead();
  const tr = document.createElement("tr");
  for (const label of labels) {
    const th = document.createElement("th");
    th.scope = "col";
    if (label.startsWith("_")) {
      const hidden = document.createElement("span");
      hidden.className = "sr-only";
      hidden.textContent = label.slice(1);
      th.append(hidden);
    } else {
      th.textContent = label;
    }
    tr.append(th);
  }
  head.replaceChildren(tr);
}
