// Links between the plugin pages and the webclient, both ways. Plain ES module.
//  - webclientLink(type, id, text): an <a> to the object in the webclient's tree.
//  - preselection(): the objects the webclient's "Open with" entry passed in the query
//    (?dataset=5&dataset=7, ?image=1, ?project=3: OMERO.web's own format).

const TYPES = ["project", "dataset", "image", "screen", "plate", "well"];

function links() {
  const node = document.getElementById("plugin-links");
  return node ? JSON.parse(node.textContent) : { webclient: "/webclient/" };
}

// The webclient opens and selects ?show=<type>-<id> in its tree.
export function webclientUrl(type, id) {
  if (!TYPES.includes(type)) throw new Error(`unknown object type ${type}`);
  return `${links().webclient}?show=${type}-${Number(id)}`;
}

export function webclientLink(type, id, text) {
  const a = document.createElement("a");
  a.href = webclientUrl(type, id);
  a.className = "webclient-link";
  a.textContent = text || `${type[0].toUpperCase()}${type.slice(1)} ${id}`;
  a.title = `Show ${type} ${id} in the webclient`;
  return a;
}

// {project: [3], dataset: [5, 7], image: [], ...}: positive integer ids only, deduplicated.
export function preselection(search = window.location.search) {
  const query = new URLSearchParams(search);
  const chosen = {};
  for (const type of TYPES) {
    const ids = query.getAll(type).flatMap((v) => v.split(","))
      .map((v) => v.trim()).filter((v) => /^[1-9][0-9]{0,17}$/.test(v)).map(Number);
    chosen[type] = [...new Set(ids)];
  }
  return chosen;
}
