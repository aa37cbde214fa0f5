"""What the verifier knows of map contents: a frozen map's values are constants, but only where
the object says what they are (`MapDef.initial_element`, which the interpreter reads too)."""

from __future__ import annotations

from interp.asm.kernel_syntax import assemble
from interp.image import ProgramImage
from interp.program import MapDef, Program
from verifier.check import check_program

# r6 = the first byte of element KEY; exit
READ_ELEMENT = ("*(u32 *)(r10 -4) = {key}\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto out\n"
                "r6 = *(u8 *)(r0 +0)\nout: r0 = 0\nexit")


def _program(mdef: MapDef, key: int) -> Program:
    insns = assemble(READ_ELEMENT.format(key=key))
    return Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [mdef],
                   license="GPL")


def _loaded(mdef: MapDef, key: int) -> str:
    """The abstract value of r6 after the load (pc 8 follows it)."""
    result = check_program(_program(mdef, key))
    assert result.verdict == "accepted", [str(f) for f in result.findings]
    return result.states[8].reg(6).describe()


def test_a_frozen_one_element_map_is_a_constant() -> None:
    rodata = MapDef(".rodata", 2, 4, 4, 1, initial_value=b"\x2a\0\0\0", frozen=True)
    assert _loaded(rodata, 0) == "0x2a"


def test_other_elements_of_a_frozen_array_are_not_folded() -> None:
    """`initial_value` is element 0's: element 1 is not known to hold it (the interpreter zeroes it)."""
    frozen = MapDef("ro", 2, 4, 4, 4, initial_value=b"\x2a\0\0\0", frozen=True)
    assert _loaded(frozen, 1) == "scalar(umax=0xff)"
    assert frozen.initial_element(0) == b"\x2a\0\0\0" and frozen.initial_element(1) is None
    image = ProgramImage(_program(frozen, 1))
    assert [bytes(image.maps[0].lookup(i.to_bytes(4, "little"), 0).data) for i in range(2)] == \
        [b"\x2a\0\0\0", bytes(4)]


def test_a_map_that_is_not_frozen_is_not_folded() -> None:
    writable = MapDef(".data", 2, 4, 4, 1, initial_value=b"\x2a\0\0\0")
    assert _loaded(writable, 0) == "scalar(umax=0xff)"
