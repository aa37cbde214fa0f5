"""The control-flow graph of a program: basic blocks as nodes of a `networkx.DiGraph`.

Control flow itself (what a jump targets, what a function is) comes from `interp.flow`; this
module arranges it as graphs: one per function (edges `fallthrough`, `taken`, `exit`) plus a call
graph (edges `call`), with back-edges, natural loops, dominators and unreachable instructions."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Generator, Sequence

import networkx as nx

from interp.flow import (
    Edge,
    Listing,
    check_control_flow,
    function_blocks,
    function_body,
    function_entries,
    successors,
)
from interp.isa.insn import Insn
from interp.isa.ops import LoadFuncRef

from . import clock
from .errors import ResourceLimit

EXIT_NODE = "exit"
# the SVG classes of a failing run's blocks and edges, and of the block it fails in
FAILING_PATH, FAILING_INSN = "failing-path", "failing-insn"
FAILS_HERE = " <- fails here"


@dataclass
class Block:
    start: int  # pc of the first instruction
    pcs: list[int]

    @property
    def end(self) -> int:
        return self.pcs[-1]


@dataclass
class FunctionGraph:
    entry: int
    name: str
    graph: nx.DiGraph  # nodes: block start pcs and EXIT_NODE; edge attribute "kind"
    blocks: dict[int, Block]
    block_of: dict[int, int]  # pc -> block start
    back_edges: list[tuple[int, int]] = field(default_factory=list)
    loops: dict[int, set[int]] = field(default_factory=dict)  # loop head -> blocks of its natural loop
    dominators: dict[int, int] = field(default_factory=dict)  # block -> immediate dominator


@dataclass
class ControlFlow:
    listing: Listing
    functions: dict[int, FunctionGraph]  # by entry pc
    call_graph: nx.DiGraph  # function entry -> function entry, edge attribute "sites" (call pcs)
    unreachable: list[int]  # pcs no path from pc 0 reaches

    @property
    def main(self) -> FunctionGraph:
        return self.functions[0]

    def function_of(self, pc: int) -> list[int]:
        return [entry for entry, fn in self.functions.items() if pc in fn.block_of]


def _in_time(deadline: float | None) -> None:
    if deadline is not None and clock.now() > deadline:
        raise ResourceLimit("the control-flow graph was not built before the time limit (raise --timeout)")


def build_cfg(insns: list[Insn] | tuple[Insn, ...], names: dict[int, str] | None = None,
              external: frozenset[int] = frozenset(), deadline: float | None = None) -> ControlFlow:
    """The CFG of `insns`. `external`: pcs of calls to functions outside the program (externs the
    loader could not resolve); they are plain instructions here. Raises
    `interp.faults.ProgramError` on jumps outside the program, and `ResourceLimit` when
    `deadline` (a `clock.now()` value) passes first."""
    listing = Listing.of(insns)
    check_control_flow(listing)
    functions: dict[int, FunctionGraph] = {}
    call_graph = nx.DiGraph()
    for entry in function_entries(listing, external):
        _in_time(deadline)
        body = function_body(listing, entry)
        _in_time(deadline)
        name = (names or {}).get(entry) or ("main" if entry == 0 else f"subprog@{entry}")
        functions[entry] = _function_graph(listing, entry, body, name, deadline)
        call_graph.add_node(entry, name=name)
    for entry, fn in functions.items():
        for pc in fn.block_of:
            insn = listing.by_pc[pc]
            if insn.is_local_call and pc not in external:
                target = insn.call_target(pc)
                if call_graph.has_edge(entry, target):
                    call_graph.edges[entry, target]["sites"].append(pc)
                else:
                    call_graph.add_edge(entry, target, kind="call", sites=[pc])
    # a function a reference names (lddw src 4) is reached where the reference is, as the kernel
    # walks it: a helper may call it back
    reaching = nx.DiGraph(call_graph)
    for entry, fn in functions.items():
        for pc in fn.block_of:
            op = listing.ops[pc]
            if isinstance(op, LoadFuncRef):
                reaching.add_edge(entry, op.target)
    reachable_functions = nx.descendants(reaching, 0) | {0}
    reached: set[int] = set()
    for entry in reachable_functions:
        reached.update(functions[entry].block_of)
    unreachable = [pc for pc in listing.pcs if pc not in reached]
    return ControlFlow(listing, functions, call_graph, unreachable)


def _function_graph(listing: Listing, entry: int, body: list[int], name: str,
                    deadline: float | None = None) -> FunctionGraph:
    blocks = {leader: Block(leader, pcs) for leader, pcs in function_blocks(listing, entry, body).items()}
    _in_time(deadline)
    block_of = {pc: leader for leader, block in blocks.items() for pc in block.pcs}
    graph = nx.DiGraph()
    for leader, block in blocks.items():
        graph.add_node(leader, pcs=block.pcs)
    graph.add_node(EXIT_NODE)
    for leader, block in blocks.items():
        succ = successors(listing, block.end)
        if not succ:
            graph.add_edge(leader, EXIT_NODE, kind="exit")
        for target, kind in succ:
            # a jump to the next instruction is both: keep the taken label, which names the jump
            graph.add_edge(leader, target, kind=kind.value if not graph.has_edge(leader, target) else Edge.TAKEN.value)
    fn = FunctionGraph(entry, name, graph, blocks, block_of)
    _in_time(deadline)
    _analyse_loops(fn)
    return fn


def _analyse_loops(fn: FunctionGraph) -> None:
    graph = fn.graph
    fn.dominators = {n: d for n, d in nx.immediate_dominators(graph, fn.entry).items() if n != EXIT_NODE and d != EXIT_NODE}
    # back-edges: edges to a block on the DFS stack
    seen: set[Any] = set()
    on_stack: set[Any] = set()
    stack = [(fn.entry, iter(sorted(graph.successors(fn.entry), key=str)))]
    seen.add(fn.entry)
    on_stack.add(fn.entry)
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_stack.discard(node)
            continue
        if child == EXIT_NODE:
            continue
        if child in on_stack:
            fn.back_edges.append((node, child))
        elif child not in seen:
            seen.add(child)
            on_stack.add(child)
            stack.append((child, iter(sorted(graph.successors(child), key=str))))
    for tail, head in fn.back_edges:
        loop = fn.loops.setdefault(head, {head})
        todo = [tail]
        while todo:
            node = todo.pop()
            if node in loop:
                continue
            loop.add(node)
            todo.extend(p for p in graph.predecessors(node) if p != EXIT_NODE)


def trampoline(root: Generator[Any, Any, Any]) -> Any:
    """Run a recursion written as generators (each `yield gen` is a call that returns its
    result) on an explicit stack: programs with thousands of blocks in a chain would exceed
    Python's recursion limit."""
    stack = [root]
    result: Any = None
    while stack:
        try:
            call = stack[-1].send(result)
        except StopIteration as done:
            stack.pop()
            result = done.value
            continue
        stack.append(call)
        result = None
    return result


def weak_topological_order(fn: FunctionGraph) -> list[Any]:
    """Bourdoncle's weak topological order of the blocks: nested lists, each loop as
    [head, ...body]; iterating it in order reaches a fixpoint with widening only at heads."""
    graph = fn.graph
    dfn: dict[Any, int] = {}
    stack: list[Any] = []
    counter = [0]

    def component(vertex: Any) -> Generator[Any, Any, list[Any]]:
        partition: list[Any] = []
        for succ in graph.successors(vertex):
            if succ != EXIT_NODE and dfn.get(succ, 0) == 0:
                yield visit(succ, partition)
        return [vertex] + partition

    def visit(vertex: Any, partition: list[Any]) -> Generator[Any, Any, int]:
        stack.append(vertex)
        counter[0] += 1
        dfn[vertex] = head = counter[0]
        loop = False
        for succ in graph.successors(vertex):
            if succ == EXIT_NODE:
                continue
            minimum = dfn[succ] if dfn.get(succ, 0) != 0 else (yield visit(succ, partition))
            if minimum <= head:
                head, loop = minimum, True
        if head == dfn[vertex]:
            dfn[vertex] = 1 << 60
            element = stack.pop()
            if loop:
                while element != vertex:
                    dfn[element] = 0
                    element = stack.pop()
                partition.insert(0, (yield component(vertex)))
            else:
                partition.insert(0, vertex)
        return head

    order: list[Any] = []
    trampoline(visit(fn.entry, order))
    return order


def to_json(cf: ControlFlow) -> dict[str, Any]:
    out: dict[str, Any] = {"functions": [], "unreachable": cf.unreachable,
                           "calls": [{"from": a, "to": b, "sites": d["sites"]} for a, b, d in cf.call_graph.edges(data=True)]}
    for entry, fn in sorted(cf.functions.items()):
        out["functions"].append({
            "entry": entry, "name": fn.name,
            "blocks": [{"start": b.start, "end": b.end, "pcs": b.pcs} for b in fn.blocks.values()],
            "edges": [{"from": a, "to": b, "kind": d["kind"]} for a, b, d in fn.graph.edges(data=True)],
            "back_edges": [list(edge) for edge in fn.back_edges],
            "loops": {str(head): sorted(body) for head, body in fn.loops.items()},
            "dominators": {str(k): v for k, v in fn.dominators.items()},
        })
    return out


def to_dot(cf: ControlFlow, text_of: Any, path: Sequence[int] | None = None, failing_pc: int | None = None) -> str:
    """Graphviz DOT of every function; `text_of(pc)` gives an instruction's text. The blocks and
    edges a failing run takes (`path`, the pcs it executes) are drawn red with the SVG class
    `failing-path`, and the instruction it fails at (`failing_pc`) is marked too."""
    on_path = set(path or ())
    steps = set(zip(path or (), (path or ())[1:]))  # (pc, next pc) of each step of the run
    lines = ["digraph cfg {", '  node [shape=box, fontname="monospace", fontsize=10];']
    for entry, fn in sorted(cf.functions.items()):
        lines.append(f'  subgraph "cluster_{entry}" {{')
        lines.append(f'    label="{_escape(fn.name)}";')
        for start, block in fn.blocks.items():
            label = "\\l".join(_escape(f"{pc}: {text_of(pc)}{FAILS_HERE if pc == failing_pc else ''}")
                               for pc in block.pcs) + "\\l"
            style = ""
            if on_path & set(block.pcs):
                style = f', color=red, penwidth=2, class="{FAILING_PATH}"'
            if failing_pc in block.pcs:
                style = f', color=red, penwidth=2, style=filled, fillcolor="#ffe0e0", class="{FAILING_PATH} {FAILING_INSN}"'
            lines.append(f'    "f{entry}_{start}" [label="{label}"{style}];')
        lines.append(f'    "f{entry}_exit" [label="exit", shape=oval];')
        for a, b, data in fn.graph.edges(data=True):
            style = {"taken": 'color=darkgreen, label="T"', "fallthrough": 'color=gray40, label="F"', "exit": "style=dashed"}[data["kind"]]
            if (a, b) in fn.back_edges:
                style += ", constraint=false, color=blue"
            if b != EXIT_NODE and (fn.blocks[a].end, b) in steps:
                style += f', color=red, penwidth=2, class="{FAILING_PATH}"'
            target = f"f{entry}_exit" if b == EXIT_NODE else f"f{entry}_{b}"
            lines.append(f'    "f{entry}_{a}" -> "{target}" [{style}];')
        lines.append("  }")
    for a, b, data in cf.call_graph.edges(data=True):
        for site in data["sites"]:
            block = cf.functions[a].block_of[site]
            style = f', color=red, penwidth=2, class="{FAILING_PATH}"' if (site, b) in steps else ""
            lines.append(f'  "f{a}_{block}" -> "f{b}_{b}" [style=dotted, label="call"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


class GraphvizError(Exception):
    """graphviz's `dot` is not installed, or it failed."""


def dot_tool() -> str:
    """The path of graphviz's `dot`."""
    tool = shutil.which("dot")
    if tool is None:
        raise GraphvizError("needs graphviz's `dot` (apt-get install graphviz)")
    return tool


def to_svg(dot: str, timeout_s: float | None = None) -> str:
    """The DOT graph drawn as SVG by graphviz (within `timeout_s` seconds, where given)."""
    try:
        done = subprocess.run([dot_tool(), "-Tsvg"], input=dot, capture_output=True, text=True, check=False,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        raise GraphvizError(f"dot failed: {done.stderr.strip().splitlines()[0] if done.stderr.strip() else done.returncode}")
    return done.stdout


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
