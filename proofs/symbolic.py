"""The domain code of the verifier run on z3: Python integers stood for by z3 bit-vectors.

`Sym` behaves as a Python `int` (unbounded two's complement: + - * & | ^ ~ << >> // % and
comparisons) over a z3 bit-vector of `WIDE` bits, wide enough that no value the domains compute
from 64-bit operands overflows it (products of two 64-bit numbers, shifts of them by up to 63).
A comparison gives a `SymBool`; where the code decides on one (`if`, `and`, `while`), the
`Explorer` splits the run: every path z3 finds feasible under the path condition is followed
in turn, from the start, with the decisions made before replayed. `min`, `max` and `to_signed`
are replaced in the domain modules by versions that build `If` terms instead of deciding, so
that the many bounds they combine do not multiply the paths; the code is otherwise run as it is.

    explorer = Explorer(assumptions)
    for condition, result in explorer.paths(lambda: f(symbolic inputs)):
        ...   # `result` holds when `condition` does"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import z3

WIDE = 136  # bits of the integers standing for Python ints (2 * 64 + room for a sign and shifts)


def set_width(bits: int) -> None:
    """The width of the integers of the proofs that follow: 72 bits hold every sum and difference
    of 64-bit bounds (far smaller terms for z3), products and shifts need WIDE."""
    global WIDE
    WIDE = bits


class PathLimit(Exception):
    """More paths than the exploration's budget."""


class Sym:
    """A Python int that is a z3 bit-vector term of WIDE bits, read as two's complement."""

    __slots__ = ("t",)

    def __init__(self, term: Any) -> None:
        self.t = term

    @staticmethod
    def var(name: str) -> "Sym":
        return Sym(z3.BitVec(name, WIDE))

    # -- arithmetic ---------------------------------------------------------------------------------
    def __add__(self, o: Any) -> "Sym":
        return Sym(self.t + term(o))

    __radd__ = __add__

    def __sub__(self, o: Any) -> "Sym":
        return Sym(self.t - term(o))

    def __rsub__(self, o: Any) -> "Sym":
        return Sym(term(o) - self.t)

    def __mul__(self, o: Any) -> "Sym":
        return Sym(self.t * term(o))

    __rmul__ = __mul__

    def __and__(self, o: Any) -> "Sym":
        return Sym(self.t & term(o))

    __rand__ = __and__

    def __or__(self, o: Any) -> "Sym":
        return Sym(self.t | term(o))

    __ror__ = __or__

    def __xor__(self, o: Any) -> "Sym":
        return Sym(self.t ^ term(o))

    __rxor__ = __xor__

    def __invert__(self) -> "Sym":
        return Sym(~self.t)

    def __neg__(self) -> "Sym":
        return Sym(-self.t)

    def __abs__(self) -> "Sym":
        return Sym(z3.If(self.t < 0, -self.t, self.t))

    def __lshift__(self, o: Any) -> "Sym":
        return Sym(self.t << term(o))

    def __rlshift__(self, o: Any) -> "Sym":
        return Sym(term(o) << self.t)

    def __rshift__(self, o: Any) -> "Sym":
        return Sym(self.t >> term(o))  # arithmetic: Python's >> floors

    def __rrshift__(self, o: Any) -> "Sym":
        return Sym(term(o) >> self.t)

    def __floordiv__(self, o: Any) -> "Sym":
        # the domains divide non-negative numbers only, where floor and truncation agree
        return Sym(z3.UDiv(self.t, term(o)))

    def __mod__(self, o: Any) -> "Sym":
        return Sym(z3.URem(self.t, term(o)))

    # -- comparisons -------------------------------------------------------------------------------
    def __lt__(self, o: Any) -> "SymBool":
        return SymBool(self.t < term(o))

    def __le__(self, o: Any) -> "SymBool":
        return SymBool(self.t <= term(o))

    def __gt__(self, o: Any) -> "SymBool":
        return SymBool(self.t > term(o))

    def __ge__(self, o: Any) -> "SymBool":
        return SymBool(self.t >= term(o))

    def __eq__(self, o: Any) -> "SymBool":  # type: ignore[override]
        return SymBool(self.t == term(o))

    def __ne__(self, o: Any) -> "SymBool":  # type: ignore[override]
        return SymBool(self.t != term(o))

    def __bool__(self) -> bool:
        return bool(SymBool(self.t != 0))

    def __hash__(self) -> int:
        return id(self)

    def bit_length(self) -> "Sym":
        """Of a non-negative value."""
        out: Any = z3.BitVecVal(0, WIDE)
        for k in range(WIDE - 1):
            out = z3.If(z3.LShR(self.t, k) != 0, z3.BitVecVal(k + 1, WIDE), out)
        return Sym(out)

    def __repr__(self) -> str:
        return f"Sym({self.t})"


def term(value: Any) -> Any:
    if isinstance(value, Sym):
        return value.t
    if isinstance(value, bool):
        value = int(value)
    return z3.BitVecVal(value, WIDE)


class SymBool:
    __slots__ = ("c",)

    def __init__(self, c: Any) -> None:
        self.c = c

    def __bool__(self) -> bool:
        explorer = Explorer.current
        if explorer is None:
            raise TypeError("a symbolic condition decided outside an exploration")
        return explorer.decide(self.c)

    def __and__(self, o: Any) -> "SymBool":
        return SymBool(z3.And(self.c, cond(o)))

    def __or__(self, o: Any) -> "SymBool":
        return SymBool(z3.Or(self.c, cond(o)))

    def __invert__(self) -> "SymBool":
        return SymBool(z3.Not(self.c))

    # comparisons of two conditions (`(a < 0) != (b < 0)`): without these Python would compare
    # the objects' identities
    def __eq__(self, o: Any) -> "SymBool":  # type: ignore[override]
        return SymBool(self.c == cond(o))

    def __ne__(self, o: Any) -> "SymBool":  # type: ignore[override]
        return SymBool(z3.Xor(self.c, cond(o)))

    def __hash__(self) -> int:
        return id(self)


def cond(value: Any) -> Any:
    if isinstance(value, SymBool):
        return value.c
    if isinstance(value, Sym):
        return value.t != 0
    return z3.BoolVal(bool(value))


def is_sym(value: Any) -> bool:
    return isinstance(value, (Sym, SymBool))


def ite(c: Any, a: Any, b: Any) -> Any:
    if not is_sym(c) and not is_sym(a) and not is_sym(b):
        return a if c else b
    if not is_sym(c):
        return a if c else b
    return Sym(z3.If(cond(c), term(a), term(b)))


# -- the replacements of `min`, `max` and `to_signed` in the domain modules ------------------------------
def sym_min(*args: Any, **kwargs: Any) -> Any:
    values = args[0] if len(args) == 1 else args
    values = list(values)
    if kwargs or not any(is_sym(v) for v in values):
        return builtins.min(values, **kwargs)
    best = values[0]
    for v in values[1:]:
        best = ite(SymBool(term(v) < term(best)), v, best)
    return best


def sym_max(*args: Any, **kwargs: Any) -> Any:
    values = args[0] if len(args) == 1 else args
    values = list(values)
    if kwargs or not any(is_sym(v) for v in values):
        return builtins.max(values, **kwargs)
    best = values[0]
    for v in values[1:]:
        best = ite(SymBool(term(v) > term(best)), v, best)
    return best


def sym_to_signed(value: Any, width: int) -> Any:
    if not is_sym(value):
        from interp.isa.insn import to_signed

        return to_signed(value, width)
    low = value & ((1 << width) - 1)
    return ite(SymBool(z3.Extract(width - 1, width - 1, low.t) == 1), low - (1 << width), low)


def sym_settled(after: Any, before: Any) -> Any:
    """`after == before` for two tuples of a scalar's fields, as one condition."""
    def parts(fields: Any) -> list[Any]:
        t, *bounds = fields
        return [t.value, t.mask, *bounds]
    return SymBool(z3.And(*(term(a) == term(b) for a, b in zip(parts(after), parts(before)))))


@contextmanager
def symbolic_domains() -> Iterator[None]:
    """The domain modules with `min`, `max` and `to_signed` that build terms instead of deciding,
    and `sync`'s cache (a memo of a pure function) bypassed: it compares keys."""
    from verifier.domains import scalar, tnum

    saved: list[tuple[Any, str, Any]] = []

    def patch(module: Any, name: str, value: Any) -> None:
        saved.append((module, name, module.__dict__.get(name, _MISSING)))
        setattr(module, name, value)

    for module in (scalar, tnum):
        patch(module, "min", sym_min)
        patch(module, "max", sym_max)
    patch(tnum, "select", ite)
    patch(scalar, "settled", sym_settled)
    patch(scalar, "to_signed", sym_to_signed)
    patch(scalar, "_synced", lambda s: s._sync())
    try:
        yield
    finally:
        for module, name, old in reversed(saved):
            if old is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, old)


@contextmanager
def sync_as_identity() -> Iterator[None]:
    """`sync` leaves a scalar as it is: what an operation computes before the reduction (each
    operator sound in isolation; the reduction is proved apart)."""
    from verifier.domains import scalar

    old = scalar.__dict__["_synced"]
    scalar._synced = lambda s: s  # type: ignore[attr-defined]
    try:
        yield
    finally:
        scalar._synced = old  # type: ignore[attr-defined]


_MISSING = object()


class Explorer:
    """Every feasible path of a Python function run on symbolic values."""

    current: "Explorer | None" = None

    def __init__(self, assumptions: list[Any], max_paths: int = 4096, rlimit: int = 50_000_000) -> None:
        self.assumptions = assumptions
        self.max_paths = max_paths
        self.solver = z3.Solver()
        self.solver.set("rlimit", rlimit)  # z3's work units: the same paths on any machine
        self.solver.add(*assumptions)
        self.prefix: list[bool] = []
        self.taken: list[bool] = []
        self.path: list[Any] = []
        self.pending: list[list[bool]] = []
        self.counter = 0
        self.requirements: list[tuple[str, Any]] = []

    def decide(self, c: Any) -> bool:
        c = z3.simplify(c)
        if z3.is_true(c):
            return True
        if z3.is_false(c):
            return False
        depth = len(self.taken)
        if depth < len(self.prefix):
            choice = self.prefix[depth]
        else:
            can_true = self._feasible(c)
            can_false = self._feasible(z3.Not(c))
            if can_true and can_false:
                self.pending.append(self.taken + [False])
                choice = True
            else:
                choice = can_true
        self.taken.append(choice)
        self.path.append(c if choice else z3.Not(c))
        self.solver.push()
        self.solver.add(self.path[-1])
        return choice

    def assume(self, c: Any) -> None:
        """Add a fact to the current path (a lemma instance the code's contract gives)."""
        self.path.append(c)
        self.solver.push()
        self.solver.add(c)

    def require(self, label: str, c: Any) -> None:
        """A goal of the current path besides the claim's own (a contract's precondition)."""
        self.requirements.append((label, c))

    def fresh(self, name: str) -> str:
        """A variable name unique within the path and the same on every rerun of it."""
        self.counter += 1
        return f"{name}!{self.counter}"

    def _feasible(self, c: Any) -> bool:
        self.solver.push()
        self.solver.add(c)
        result = self.solver.check()
        self.solver.pop()
        return result != z3.unsat  # unknown: followed (a path too many is harmless)

    def paths(self, run: Callable[[], Any]) -> Iterator[tuple[list[Any], Any]]:
        """(path condition, what `run` returned) for each feasible path."""
        self.pending = [[]]
        count = 0
        while self.pending:
            self.prefix = self.pending.pop()
            self.taken, self.path, self.counter, self.requirements = [], [], 0, []
            count += 1
            if count > self.max_paths:
                raise PathLimit(f"more than {self.max_paths} paths")
            outer, Explorer.current = Explorer.current, self
            try:
                result = run()
            finally:
                Explorer.current = outer
                for _ in self.path:
                    self.solver.pop()
            yield list(self.path), result
        self.count = count


__all__ = ["Explorer", "PathLimit", "Sym", "SymBool", "WIDE", "ite", "symbolic_domains", "sync_as_identity"]
