"""`bpfverify check --explain DIR`: the HTML page of a rejected program (its failing path drawn in
the graph, the counterexample's run replayed beside the analysis' states), of an accepted one, the
index of several, and the one-line refusals; the page as a browser (headless Chromium) renders it."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from interp.asm.kernel_syntax import assemble
from interp.isa.insn import encode
from interp.program import MapDef, Program
from verifier import clock
from verifier.check import check_program
from verifier.cli import main
from verifier.explain import write_pages

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")

# a lookup read without the NULL check, on the path where regs->di is 7: blocks 0 (to the branch),
# 7 (the read) and 8 (the exit), which the failing run does not reach
LOOKUP = ("r6 = *(u64 *)(r1 +112)\n*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"
          "if r6 != 7 goto out\n")
UNCHECKED = LOOKUP + "r0 = *(u64 *)(r0 +0)\nout: r0 = 0\nexit\n"
CHECKED = LOOKUP + "if r0 == 0 goto out\nr0 = *(u64 *)(r0 +0)\nout: r0 = 0\nexit\n"
HASH = {"name": "h", "type": 1, "key_size": 4, "value_size": 8, "max_entries": 16}
NULL_MESSAGE = ("insn 8: possible-null-dereference: 8-byte read through r0, which may be NULL (map_value_or_null); "
                "compare r0 with 0 before dereferencing it")


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children, self.text = tag, attrs, [], ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all(self, tag: str | None = None, css: str | None = None) -> list["Element"]:
        found = [] if (tag and self.tag != tag) or (css and css not in self.classes) else [self]
        return found + [e for child in self.children for e in child.all(tag, css)]

    def content(self) -> str:
        return self.text + "".join(child.content() for child in self.children)


class Tree(HTMLParser):
    """The page as elements (the standard library's HTML tokenizer: entities resolved)."""

    VOID = {"meta", "br", "link", "img", "input", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.root = Element("root", {})
        self.open = [self.root]
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        while len(self.open) > 1 and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.open[-1].text += data


def graph_titles(root: Element, css: str) -> set[str]:
    """The graphviz names (`<title>`) of the SVG groups of class `css`."""
    return {g.all("title")[0].content() for g in root.all("g", css)}


def trace_rows(root: Element) -> list[list[str]]:
    """The trace table: per row, pc, instruction, then per register `concrete / abstract`."""
    table = root.all("table", "trace")[0]
    rows = []
    for tr in table.all("tr")[1:]:
        cells = tr.all("td")
        if len(cells) < 3 + 11:
            continue
        regs = [" / ".join(span.content() for span in cell.all("span")) for cell in cells[3:]]
        rows.append([cells[0].content(), cells[1].content(), *regs])
    return rows


def write_program(tmp_path: Path, asm: str) -> Path:
    binary = tmp_path / "prog.bin"
    binary.write_bytes(encode(assemble(asm)))
    (tmp_path / "prog.json").write_text(json.dumps({"prog_type": "kprobe", "license": "GPL", "maps": [HASH]}))
    return binary


def explain(capsys: pytest.CaptureFixture[str], tmp_path: Path, asm: str) -> tuple[int, str, Path]:
    out_dir = tmp_path / "explained"
    code = main(["check", str(write_program(tmp_path, asm)), "--explain", str(out_dir)])
    out, err = capsys.readouterr()
    assert err == f"bpfverify: explained in {out_dir / 'prog.html'}\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["prog.html"]
    return code, out, out_dir / "prog.html"


@needs_dot
def test_a_rejected_program_shows_its_failing_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, page = explain(capsys, tmp_path, UNCHECKED)
    assert code == 1
    assert out.splitlines()[1] == f"  {NULL_MESSAGE}"
    text = page.read_text()
    root = Tree(text).root
    # the run's blocks and the edge between them, the read's block marked; the exit is not on it
    assert graph_titles(root, "failing-path") == {"f0_0", "f0_8", "f0_0->f0_8"}
    assert graph_titles(root, "failing-insn") == {"f0_8"}
    assert [t.content() for t in root.all("g", "failing-insn")[0].all("text")] == [
        "8: r0 = *(u64 *)(r0 +0) <- fails here"]
    finding = root.all("div", "finding")[0]
    assert finding.all("code")[0].content() == NULL_MESSAGE
    assert finding.all("span", "confirmed")[0].content() == (
        "confirmed: the interpreter, given the counterexample, faults here")
    section = root.all("section")[2].content()
    assert "registers: di = 0x7" in section and "--regs di=0x7" in section
    rows = trace_rows(root)
    assert [row[0] for row in rows] == ["0", "1", "2", "4", "5", "6", "7", "8"]
    assert rows[0][1] == "r6 = *(u64 *)(r1 +112)"
    assert rows[0][2 + 6] == "0x7 / scalar"  # r6 after insn 0: this run's, and the analysis' before insn 1
    assert rows[5][2 + 0] == "0x0 / map_value_or_null"  # the lookup found nothing
    assert rows[6][2 + 6] == "0x7 / 7"  # past the branch on di, the analysis knows r6 too
    assert rows[-1][1] == "r0 = *(u64 *)(r0 +0)"
    assert [tr.all("td")[0].content() for tr in root.all("table", "states")[0].all("tr", "fault")] == ["8"]
    fault = root.all("td", "message")[0].content()
    assert fault.startswith("fault: out-of-bounds: 8-byte read at 0x0 hits no memory")
    assert "http://" not in text and "https://" not in text and "<script" not in text


@needs_dot
def test_an_accepted_program_shows_its_states(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, page = explain(capsys, tmp_path, CHECKED)
    assert code == 0 and "accepted" in out
    root = Tree(page.read_text()).root
    assert graph_titles(root, "failing-path") == set()
    assert root.all("table", "trace") == [] and root.all("section", None)[0].content() == "Findingsnone"
    states = root.all("table", "states")[0].all("tr")[1:]
    assert [r.all("td")[0].content() for r in states] == ["0", "1", "2", "4", "5", "6", "7", "8", "9", "10", "11"]
    read = states[8].all("td")
    assert read[1].content() == "r0 = *(u64 *)(r0 +0)"
    assert read[3].content() == "map_value" and read[3 + 6].content() == "7" and read[3 + 10].content() == "fp"


@needs_dot
def test_several_programs_get_an_index(tmp_path: Path) -> None:
    results = []
    for name, asm in (("<unchecked>", UNCHECKED), ("checked", CHECKED)):
        insns = assemble(asm)
        program = Program(name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                          [MapDef("h", 1, 4, 8, 16)], license="GPL")
        results.append(check_program(program))
    assert write_pages(tmp_path, results, "x86_64") == tmp_path / "index.html"
    names = ["kprobe_f_unchecked.html", "kprobe_f_checked.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.html", *names])
    index = tmp_path / "index.html"
    links = Tree(index.read_text()).root.all("a")
    assert [(a.attrs["href"], a.content()) for a in links] == [
        (names[0], "kprobe/f:<unchecked>"), (names[1], "kprobe/f:checked")]
    assert "<h1>kprobe/f:&lt;unchecked&gt;: " in (tmp_path / names[0]).read_text()
    assert "rejected" in index.read_text() and "accepted" in index.read_text()


def test_past_the_time_limit_a_page_keeps_the_findings_and_the_run(tmp_path: Path) -> None:
    insns = assemble(UNCHECKED)
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                      [MapDef("h", 1, 4, 8, 16)], license="GPL")
    page = write_pages(tmp_path, [check_program(program)], "x86_64", deadline=clock.now())
    root = Tree(page.read_text()).root
    assert root.all("section", None)[1].content().strip() == (
        "Control-flow graphno graph: the command's time limit passed (raise --timeout)")
    assert root.all("svg") == [] and root.all("table", "states") == []
    assert [row[0] for row in trace_rows(root)] == ["0", "1", "2", "4", "5", "6", "7", "8"]


@pytest.mark.parametrize("where, message", [
    ("file", "--explain {dir}: not a directory"),
    ("file/below", "--explain {dir}: cannot write there: Not a directory"),
])
def test_a_bad_directory_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str,
                                     message: str) -> None:
    (tmp_path / "file").write_text("")
    directory = tmp_path / where
    code = main(["check", str(write_program(tmp_path, UNCHECKED)), "--explain", str(directory)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"bpfverify: error: {message.format(dir=directory)}\n"


def test_no_graphviz_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code = main(["check", str(write_program(tmp_path, UNCHECKED)), "--explain", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "bpfverify: error: --explain needs graphviz's `dot` (apt-get install graphviz)\n"
    assert not (tmp_path / "out").exists()
    code = main(["cfg", str(tmp_path / "prog.bin"), "--format", "svg"])
    assert code == 2 and capsys.readouterr().err == (
        "bpfverify: usage error: --format svg needs graphviz's `dot` (apt-get install graphviz); use --format dot\n")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_failing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, _, page = explain(capsys, tmp_path, UNCHECKED)
    assert CHROMIUM is not None
    rendered = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    root = Tree(rendered).root
    assert graph_titles(root, "failing-path") == {"f0_0", "f0_8", "f0_0->f0_8"}
    assert graph_titles(root, "failing-insn") == {"f0_8"}
    assert root.all("svg") and len(trace_rows(root)) == 8
