"""`check --explain DIR`: one self-contained HTML page per checked program, for people.

A page shows the program's control-flow graph (graphviz SVG, inline), its findings with what z3
made of them, and, for a rejected program, the run of the first error's counterexample replayed
on the interpreter: each executed instruction with the registers' concrete values after it beside
the analysis' abstract values where the run goes next. The blocks and edges of that run carry the
SVG class `failing-path`. An accepted program's page has the graph and the abstract state before
each instruction. Pages name no outside resource: styles and drawings are inline."""

from __future__ import annotations

import html
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.faults import ProgramError
from interp.listing import insn_texts
from interp.program import Program
from interp.sources import SourceError, describe, printable

from . import clock
from .cfg import GraphvizError, build_cfg, dot_tool, to_dot, to_svg
from .check import ProgramResult
from .domains.regs import RegType
from .errors import Finding, ResourceLimit
from .evidence import counterexample_lines
from .profiles import PROFILES
from .state import State
from .witness import Counterexample, Replay, replay

MAX_ROWS = 5000  # rows of a trace or a state table; a page past that is no longer read
GRAPH_SECONDS = 60.0  # time to build a graph and for graphviz to lay it out
REGISTERS = range(11)

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.verdict-rejected { color: #b00000; } .verdict-accepted { color: #006000; } .verdict-unknown { color: #805000; }
.columns { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
.columns > section { flex: 1 1 40em; overflow: auto; } .columns > #cfg { flex: 0 1 auto; }
table { border-collapse: collapse; font-family: monospace; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.15em 0.4em; vertical-align: top; text-align: left; white-space: pre; }
th { background: #f0f0f0; }
.abstract { color: #555; display: block; } .concrete { display: block; }
.changed .concrete { font-weight: bold; color: #a00000; }
tr.fault td { background: #ffe0e0; } td.message { white-space: normal; }
.source { color: #0a5a0a; }
.finding { margin: 0.4em 0; } .finding code { font-size: 0.95em; }
.confirmed { color: #b00000; font-weight: bold; } .not-confirmed { color: #805000; }
g.failing-path > polygon, g.failing-path > path { stroke-width: 3; }
g.failing-insn > polygon { fill: #ffd0d0; }
pre { background: #f6f6f6; padding: 0.5em; overflow: auto; }
"""


class ExplainError(SourceError):
    """The pages cannot be written (no graphviz, a DIR that is not a writable directory)."""


@dataclass
class Step:
    """One executed instruction of a replayed run: its pc and the registers after it (None: not
    written yet), or the fault it stopped at."""

    pc: int
    regs: tuple[int | None, ...]
    fault: str | None = None


def prepare(directory: str) -> Path:
    """The directory the pages go to, created if need be; checked before any program is analysed
    so that a bad DIR or a missing graphviz costs no analysis."""
    try:
        dot_tool()
    except GraphvizError as exc:
        raise ExplainError(f"--explain {exc}") from None
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ExplainError(f"--explain {directory}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()  # (writable: as root, os.access always says so)
    except OSError as exc:
        raise ExplainError(f"--explain {directory}: cannot write there: {exc.strerror or exc}") from None
    return path


def write_pages(directory: Path, results: list[ProgramResult], arch: str, deadline: float | None = None) -> Path:
    """A page per program in `directory`, and an index.html when there are several; returns the
    page to open first. Past `deadline` (clock.now(), the command's --timeout) graphs and
    state tables are left out: graphviz takes seconds on programs of thousands of instructions."""
    names = _file_names([r.program for r in results])
    try:
        for result, name in zip(results, names):
            (directory / name).write_text(page(result, arch, deadline), encoding="utf-8")
        if len(results) == 1:
            return directory / names[0]
        (directory / "index.html").write_text(index(results, names), encoding="utf-8")
    except OSError as exc:
        raise ExplainError(f"--explain {directory}: cannot write there: {exc.strerror or exc}") from None
    return directory / "index.html"


def _file_names(programs: list[Program]) -> list[str]:
    names: list[str] = []
    for program in programs:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", describe(program)).strip("_.")[:100] or "program"
        name, n = f"{stem}.html", 1
        while name in names or name == "index.html":
            n += 1
            name = f"{stem}-{n}.html"
        names.append(name)
    return names


def _document(title: str, body: list[str]) -> str:
    return "\n".join(['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
                      f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
                      *body, "</body>", "</html>", ""])


def index(results: list[ProgramResult], names: list[str]) -> str:
    rows = [f'<tr><td><a href="{html.escape(name)}">{html.escape(printable(describe(r.program)))}</a></td>'
            f'<td class="verdict-{html.escape(r.verdict)}">{html.escape(r.verdict)}</td><td>{len(r.errors)}</td><td>{len(r.warnings)}</td></tr>'
            for r, name in zip(results, names)]
    return _document("bpfverify check", ["<h1>bpfverify check</h1>", "<table>",
                                         "<tr><th>program</th><th>verdict</th><th>errors</th><th>warnings</th></tr>",
                                         *rows, "</table>"])


def page(result: ProgramResult, arch: str, deadline: float | None = None) -> str:
    program = result.program
    name = printable(describe(program))
    texts = insn_texts(program)
    failing = next((f for f in result.errors if f.proof and f.proof.get("counterexample")), None)
    cx = Counterexample.from_json(failing.proof["counterexample"]) if failing and failing.proof else None
    verdict = html.escape(result.verdict)
    body = [f'<h1>{html.escape(name)}: <span class="verdict-{verdict}">{verdict}</span></h1>',
            f"<p>{program.slots} instructions, profile {html.escape(result.profile)}, {result.time_s:.2f} s"
            + (f"; unknown: {html.escape(result.reason)}" if result.reason else "") + "</p>",
            *_findings(result)]
    graph = ['<section id="cfg"><h2>Control-flow graph</h2>',
             *_graph(program, texts, cx.path if cx else None, failing.pc if failing else None, deadline),
             "</section>"]
    if cx is not None and failing is not None:
        steps, run = _replayed(result, cx, failing, arch)
        trace = ['<section id="trace"><h2>The counterexample replayed</h2>', *_run_summary(cx, run),
                 *_trace_table(steps, result, texts), "</section>"]
        body += ['<div class="columns">', *graph, *trace, "</div>"]
    else:
        body += graph
    if deadline is not None and clock.now() >= deadline:
        body.append("<p>no abstract states: the command's time limit passed (raise --timeout)</p>")
    else:
        body += _states_table(result, texts)
    return _document(f"{name}: {result.verdict}", body)


# -- findings ----------------------------------------------------------------------------------


def _findings(result: ProgramResult) -> list[str]:
    if not result.findings:
        return ['<section id="findings"><h2>Findings</h2><p>none</p></section>']
    out = ['<section id="findings"><h2>Findings</h2>']
    for f in result.findings:
        line = result.program.source_lines.get(f.pc)
        source = (f'<pre class="source">{html.escape(str(line))}: {html.escape(line.text.strip())}</pre>'
                  if line is not None and line.line else "")
        css, status = _judged(f.proof)
        out.append(f'<div class="finding {f.severity}"><code>{html.escape(str(f))}</code><br>'
                   f'<span class="{css}">{html.escape(status)}</span>{source}</div>')
    out.append("</section>")
    return out


def _judged(proof: dict[str, Any] | None) -> tuple[str, str]:
    """The CSS class and the words for what z3 made of a finding."""
    if proof is None:
        return "not-confirmed", "not confirmed: not judged by z3 (a warning, a rule of the program's form, or --no-solver)"
    if proof.get("confirmed"):
        return "confirmed", "confirmed: the interpreter, given the counterexample, faults here"
    status, reason = proof["status"], proof.get("reason")
    if status == "policy":
        return "not-confirmed", "not confirmed: a load-time rule of the kernel, which no run faults on" + (
            f" ({reason})" if reason else "")
    replayed = proof.get("replay") or {}
    why = replayed.get("reason") or reason or "z3 found no counterexample"
    return "not-confirmed", f"not confirmed: {why}"


# -- the graph ---------------------------------------------------------------------------------


def _graph(program: Program, texts: dict[int, str], path: list[int] | None, failing_pc: int | None,
           deadline: float | None) -> list[str]:
    seconds = GRAPH_SECONDS if deadline is None else min(GRAPH_SECONDS, deadline - clock.now())
    if seconds <= 0:
        return ["<p>no graph: the command's time limit passed (raise --timeout)</p>"]
    try:
        cf = build_cfg(program.insns, dict(program.functions), program.unresolved_pcs, clock.now() + seconds)
        # graphviz runs in its own process: its bound is wall time
        svg = to_svg(to_dot(cf, texts.__getitem__, path, failing_pc), max(seconds, 0.1))
    except (ProgramError, ResourceLimit, GraphvizError) as exc:
        return [f"<p>no graph: {html.escape(str(exc))}</p>"]
    # inline in HTML: no XML prolog, no DOCTYPE naming the SVG DTD, no namespace URLs
    svg = svg[svg.index("<svg"):]
    return [re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)]


# -- the replayed run --------------------------------------------------------------------------


def _replayed(result: ProgramResult, cx: Counterexample, failing: Finding, arch: str) -> tuple[list[Step], Replay]:
    """The run of the counterexample, traced by the interpreter's trace hook."""
    steps: list[Step] = []
    executed = [0]

    def record(at: int, regs: tuple) -> None:
        executed[0] += 1
        if len(steps) < MAX_ROWS:
            steps.append(Step(at, tuple(regs)))

    fault = next((a.obligation.rule.fault for a in result.alarms if (a.pc, a.code) == (failing.pc, failing.code)), "")
    run = replay(result.program, cx, failing.pc, fault, arch, trace=record)
    if run.fault is not None and executed[0] <= MAX_ROWS:
        last = steps[-1].regs if steps else (None,) * len(REGISTERS)
        steps.append(Step(run.fault["pc"], last, f"{run.fault['kind']}: {run.fault['message']}"))
    return steps, run


def _run_summary(cx: Counterexample, run: Replay) -> list[str]:
    outcome = ("confirmed: the run faults at the finding's instruction" if run.confirmed
               else f"not confirmed: {run.reason}")
    # the inputs in the shapes `bpfverify run` takes them (--regs, and JSON for --maps, --kmem, --env)
    inputs = {"maps": cx.maps, "kmem": cx.kmem, "env": cx.env}
    by_name = "\n".join(counterexample_lines(cx.to_json()))
    listed = "\n".join([f"--regs {cx.regs_argument() or '(all 0)'}", f"--cpu {cx.cpu}",
                        *(f"--{key} '{json.dumps(value)}'" for key, value in inputs.items() if value)])
    return [f'<p class="{"confirmed" if run.confirmed else "not-confirmed"}">{html.escape(outcome)}</p>',
            f"<pre>{html.escape(by_name)}</pre>",
            "<p>As <code>bpfverify run</code> takes them:</p>",
            f"<pre>{html.escape(listed)}</pre>",
            "<p>Each row: an executed instruction; each register cell holds its concrete value after the "
            "instruction (top) and the analysis' abstract value where the run goes next (below).</p>"]


def _trace_table(steps: list[Step], result: ProgramResult, texts: dict[int, str]) -> list[str]:
    out = ['<table class="trace">', _header("pc", "instruction", "source")]
    previous: tuple[int | None, ...] = (None,) * len(REGISTERS)
    last_source = None
    for n, step in enumerate(steps):
        following = steps[n + 1].pc if n + 1 < len(steps) else step.pc
        state = result.states.get(step.pc if step.fault else following)
        source, last_source = _source_cell(result.program, step.pc, last_source)
        cells = [_register_cell(step.regs[r], state, r, step.regs[r] != previous[r] and not step.fault)
                 for r in REGISTERS]
        css = ' class="fault"' if step.fault else ""
        out.append(f"<tr{css}><td>{step.pc}</td><td>{html.escape(texts.get(step.pc, '?'))}</td>{source}"
                   f"{''.join(cells)}</tr>")
        if step.fault:
            out.append(f'<tr class="fault"><td></td><td class="message" colspan="{2 + len(REGISTERS)}">'
                       f"fault: {html.escape(step.fault)}</td></tr>")
        previous = step.regs
    if len(steps) >= MAX_ROWS:
        out.append(f'<tr><td colspan="{3 + len(REGISTERS)}">... the first {MAX_ROWS} instructions shown</td></tr>')
    out.append("</table>")
    return out


def _register_cell(value: int | None, state: State | None, reg: int, changed: bool) -> str:
    concrete = "" if value is None else f"{value:#x}"
    abstract = _abstract(state, reg)
    css = ' class="changed"' if changed else ""
    return (f'<td{css}><span class="concrete">{html.escape(concrete)}</span>'
            f'<span class="abstract">{html.escape(abstract)}</span></td>')


def _abstract(state: State | None, reg: int) -> str:
    if state is None:
        return ""
    value = state.reg(reg)
    return "" if value.type == RegType.NOT_INIT else value.describe()


# -- the abstract states -----------------------------------------------------------------------


def _states_table(result: ProgramResult, texts: dict[int, str]) -> list[str]:
    out = ['<section id="states"><h2>Abstract state before each instruction</h2>']
    if not result.states:
        why = ("the linux-4.1 profile decides by the Linux 4.1 verifier's own walk, which keeps no states of "
               "this analysis" if PROFILES[result.profile].analysis == "linux-4.1"
               else "the analysis did not run to the end")
        return out + [f"<p>none: {why}</p></section>"]
    out += ['<table class="states">', _header("pc", "instruction", "source")]
    last_source = None
    errors = {f.pc for f in result.errors}
    for n, pc in enumerate(sorted(texts)):
        if n == MAX_ROWS:
            out.append(f'<tr><td colspan="{3 + len(REGISTERS)}">... the first {MAX_ROWS} instructions shown</td></tr>')
            break
        state = result.states.get(pc)
        source, last_source = _source_cell(result.program, pc, last_source)
        cells = "".join(f'<td><span class="abstract">{html.escape(_abstract(state, r))}</span></td>'
                        for r in REGISTERS)
        unreached = "" if state is not None else " (no path reaches it)"
        css = ' class="fault"' if pc in errors else ""  # (the error findings' instructions)
        out.append(f"<tr{css}><td>{pc}</td><td>{html.escape(texts[pc] + unreached)}</td>{source}{cells}</tr>")
    return out + ["</table>", "</section>"]


def _header(*first: str) -> str:
    return "<tr>" + "".join(f"<th>{name}</th>" for name in (*first, *(f"r{r}" for r in REGISTERS))) + "</tr>"


def _source_cell(program: Program, pc: int, last: tuple[str, int] | None) -> tuple[str, tuple[str, int] | None]:
    """The source line of `pc` where it starts a new one (as `disasm` prints them)."""
    line = program.source_lines.get(pc)
    if line is None or not line.line or (line.file, line.line) == last:
        return "<td></td>", last
    where = f"{line.file.rsplit('/', 1)[-1]}:{line.line}"
    return (f'<td class="source">{html.escape(where)} {html.escape(line.text.strip())}</td>',
            (line.file, line.line))


__all__ = ["ExplainError", "index", "page", "prepare", "write_pages"]
