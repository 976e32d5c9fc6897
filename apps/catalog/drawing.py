"""Lays a lineage graph out for the table page's picture: a server-drawn SVG, so the page
needs no graph library and draws the same in every browser."""

from dataclasses import dataclass

COLUMN_WIDTH = 230
NODE_WIDTH = 190
NODE_HEIGHT = 34
ROW_HEIGHT = 50
MARGIN = 12


@dataclass(frozen=True)
class PlacedNode:
    id: str
    label: str
    title: str
    table: int
    x: int
    y: int
    is_root: bool
    is_dropped: bool


@dataclass(frozen=True)
class PlacedEdge:
    path: str
    title: str


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]


def lineage_drawing(graph) -> Drawing:
    """Upstream nodes to the left, downstream to the right, one column per distance; each
    edge a curve from the right side of its source to the left side of its target."""
    distances = sorted({node["distance"] for node in graph.nodes})
    column_of = {distance: index for index, distance in enumerate(distances)}
    rows: dict[int, int] = {}
    placed = {}
    for node in graph.nodes:
        row = rows.get(node["distance"], 0)
        rows[node["distance"]] = row + 1
        placed[node["id"]] = PlacedNode(
            id=node["id"], label=node["name"] if node["kind"] == "table" else node["qualified_name"].split(".", 1)[1],
            title=f"{node['project']}: {node['qualified_name']}", table=node["table"],
            x=MARGIN + column_of[node["distance"]] * COLUMN_WIDTH, y=MARGIN + row * ROW_HEIGHT,
            is_root=node["id"] == graph.root, is_dropped=node["is_dropped"],
        )
    edges = []
    for edge in graph.edges:
        source, target = placed[edge["source"]], placed[edge["target"]]
        x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
        x2, y2 = target.x, target.y + NODE_HEIGHT // 2
        bend = max(40, (x2 - x1) // 2)
        pairs = ", ".join(f"{pair['source']} → {pair['target']}" for pair in edge["columns"])
        edges.append(PlacedEdge(path=f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}",
                                title=f"{source.label} → {target.label}" + (f" ({pairs})" if pairs else "")))
    width = MARGIN * 2 + (len(distances) - 1) * COLUMN_WIDTH + NODE_WIDTH
    height = MARGIN * 2 + (max(rows.values()) - 1) * ROW_HEIGHT + NODE_HEIGHT
    return Drawing(width=width, height=height, nodes=list(placed.values()), edges=edges)
