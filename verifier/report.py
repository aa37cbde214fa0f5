"""Every word the verifier says about a program: findings made from alarms.

An alarm is data (an obligation, where it was broken, the facts of the breach); `finding` turns
one into a `Finding`: its code, one sentence naming the cause and the instruction's operands,
and what would make the program safe. The text formats (text, JSON, SARIF) are built from
findings; a program's findings keep the first alarm of each (pc, code)."""

from __future__ import annotations

from typing import Any, Callable

from interp.isa.opcodes import STACK_SIZE, AluOp
from interp.isa.ops import CallIndirect, KfuncCall, LoadBtfRef, PacketLoad
from interp.program import Program

from .checker import Alarm
from .errors import Finding
from .obligations import Kind

Render = Callable[[dict[str, Any], Alarm, Program], str]


def _verb(facts: dict[str, Any]) -> str:
    return "write" if facts.get("write") else "read"


def _insn(alarm: Alarm, program: Program) -> str:
    from interp.flow import Listing

    listing = Listing.of(program.insns)
    return str(listing.by_pc[alarm.pc])


# -- registers and arithmetic ------------------------------------------------------------------


def _initialised(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"r{f['reg']} is {f['role']} before it is written on some path to here; initialise r{f['reg']} first"


def _consistent(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"r{f['reg']} holds different kinds of values (pointers of different kinds, or a pointer and a number) on "
            "different paths to here; keep one kind of value in it on every path")


def _valid_immediate(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    if f["op"] in (AluOp.DIV, AluOp.MOD):
        return ("division by the constant 0; the kernel refuses it at load (divide by a register to get the "
                "instruction set's x / 0 = 0)")
    return f"shift by {f['imm']}: a {f['width']}-bit shift count must be 0..{f['width'] - 1}"


def _pointer_arithmetic(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    op = f["op"]
    name = {AluOp.ADD: "+=", AluOp.SUB: "-="}.get(op, AluOp(op).name.lower())
    why = f["why"]
    if why == "32-bit":
        return f"32-bit arithmetic on pointer {f['pointer']} is prohibited; use 64-bit registers for pointers"
    if why == "operation":
        return (f"operation {name} on pointer {f['pointer']} is prohibited; only adding or subtracting a number moves "
                "a pointer")
    if why == "nullable":
        return f"arithmetic on {f['pointer_type'].value} pointer prohibited; compare it with 0 first"
    if why == "immovable":
        return f"arithmetic on a {f['pointer_type'].value} pointer is prohibited; pass it to helpers unchanged"
    return (f"{f['pointer_type'].value} pointer {name} {f['other']}: {f['what']} {f['problem']}; bound the number "
            "(e.g. `if rN > LIMIT goto`) before adding it")


# -- memory --------------------------------------------------------------------------------------


def _dereferenceable(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    reg, size, verb = f["reg"], f["size"], _verb(f)
    if f["scalar"]:
        what = f"r{reg} is NULL (0)" if f["null"] else f"r{reg} is a number ({f['value']}), not a pointer"
        return (f"{size}-byte {verb} through r{reg}: {what}; only pointers to the stack, the context, map values and "
                "ring buffer records may be dereferenced")
    return (f"{size}-byte {verb} through r{reg}, a {f['type'].value} pointer, which may not be dereferenced; pass it "
            "to map helpers instead")


def _not_null(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte {_verb(f)} through r{f['reg']}, which may be NULL ({f['type'].value}); compare "
            f"r{f['reg']} with 0 before dereferencing it")


def _ctx_one_kind(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"r{f['reg']} points into the context on one path and is {f['other']} on another; the kernel needs one "
            "kind of pointer at an instruction that reads the context, so use separate loads for each")


def _ctx_constant_offset(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"r{f['reg']} points into {f['context']} at a variable offset ({f['value']}); the context is read at "
            "constant offsets only; read each field with its own constant offset")


def _ctx_unmoved(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    moved = f["moved"]
    return (f"r{f['reg']} is the context pointer moved by {moved}; the kernel dereferences only the unmodified "
            f"pointer: use *(r1 {moved + f['off']:+d}) instead")


def _ctx_read_only(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte write to {f['context']} at offset {f['off']}: {f['reason']}; copy the value to the "
            "stack first")


def _ctx_aligned(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"{f['size']}-byte read of {f['context']} at offset {f['off']}: {f['reason']}"


def _ctx_in_bounds(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"{f['size']}-byte read of {f['context']} at offset {f['off']} is out of bounds: {f['reason']}"


def _stack_in_bounds(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    size = f["size"]
    return (f"{size}-byte {_verb(f)} at stack offset [{f['lo']}, {f['hi']}] (r{f['reg']}{f['off']:+d}) leaves the "
            f"{STACK_SIZE}-byte stack; offsets must stay within [-{STACK_SIZE}, -{size}]")


def _stack_aligned(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte {_verb(f)} at stack offset {f['lo']} is misaligned; the stack is accessed at offsets "
            "that are multiples of the access size")


def _stack_constant_offset(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte {_verb(f)} at a variable stack offset [{f['lo']}, {f['hi']}]: {f['profile']} accesses "
            "the stack at constant offsets only")


def _stack_initialised(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    span = f"{f['lo']}..{f['hi']}" if f["lo"] != f["hi"] else f"{f['lo']}"
    return (f"{f['size']}-byte read at stack offset {span} reads byte {f['missing']}, which is not initialised on "
            "some path to here; write it first")


def _whole_fill(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte read at stack offset {f['lo']} takes part of the pointer spilled at offset "
            f"{f['slot']}; read the whole 8-byte slot")


def _whole_spill(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte store of pointer r{f['reg']} ({f['value']}) keeps only part of it; spill pointers "
            "whole, as 8-byte stores")


def _stack_pointer_stays(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"r{f['reg']} points into a stack frame and is stored into the stack of a calling function, where it "
            "would outlive the frame it points to; pass values to callers in r0 or through their own stack")


def _map_value_in_bounds(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte {_verb(f)} at r{f['reg']}{f['off']:+d} may reach bytes [{f['lo']}, {f['hi']}) of a "
            f"value of map {f['map']}, which has {f['value_size']} bytes; check the offset so that it stays within "
            f"[0, {f['value_size'] - f['size']}]")


def _map_value_writable(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte write to map {f['map']}, which is read-only for programs (.rodata or "
            "BPF_F_RDONLY_PROG); write to a writable map or to the stack")


def _mem_in_bounds(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte {_verb(f)} at r{f['reg']}{f['off']:+d} may reach bytes [{f['lo']}, {f['hi']}) of a "
            f"{f['mem_size']}-byte ring buffer record; keep it within [0, {f['mem_size']})")


def _atomic_aligned(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['size']}-byte atomic operation at r{f['reg']}{f['off']:+d} ({f['base']}) is misaligned; atomic "
            f"operations need an offset that is a multiple of {f['size']}")


# -- instructions, calls and exits ------------------------------------------------------------------


def _valid_map_reference(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    if f["why"] == "index":
        return f"lddw refers to map {f['index']}, but the program has {f['count']} maps; refer to one of them"
    if f["why"] == "kind":
        return (f"lddw takes the address of a value of map {f['map']} ({f['type_name']}, {f['entries']} elements); "
                "only the value of a one-element array map is directly addressable")
    return (f"lddw takes the address of byte {f['offset']} of map {f['map']}'s {f['value_size']}-byte value; the "
            f"offset must be below {f['value_size']}")


def _supported(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    what, insn = f["what"], _insn(alarm, program)
    if isinstance(what, LoadBtfRef):
        return (f"{insn} loads a kernel symbol by BTF id, which this verifier does not model; read kernel memory "
                "with bpf_probe_read_kernel instead")
    if isinstance(what, PacketLoad):
        return (f"{insn} is a legacy packet load, which needs a socket buffer; {program.prog_type} programs have "
                "none: read memory with ldx instead")
    if isinstance(what, CallIndirect):
        return f"{insn}: indirect calls are not part of the kernel's instruction set; call a helper by its id"
    if isinstance(what, KfuncCall):
        return f"{insn} calls a kernel function (kfunc), which this verifier does not model; use helpers"
    profile = f.get("profile") or alarm.facts.get("profile", "")
    return f"{insn} is not supported by {profile}: {what}; use an older form or the linux-6.18 profile"


def _helper_allowed(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    why = f" (the kernel: \"{f['refused']}\")" if f["refused"] else ""
    return (f"call to helper {f['id']} ({f['name']}), which {f['profile']} {f['prog_type']} programs may not "
            f"call{why}; they may call: {f['allowed']}")


def _gpl(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"helper {f['helper']} is GPL-only and the program's license is {f['license']}; declare a "
            "GPL-compatible license")


_ARGUMENTS: dict[str, str] = {
    "maybe-null": "r{reg} may be NULL ({value}); the helper takes NULL or a valid pointer, so compare it with 0 first "
                  "and pass 0 or the checked pointer",
    "stack-or-null": "r{reg} must point to the stack or be NULL, but it is {value}",
    "func": "r{reg} must be a function of the program (lddw of the function, unchanged), but it is {value}",
    "task": "r{reg} must be a task pointer from bpf_get_current_task_btf (unmoved), but it is {value}",
    "const-str-kind": "r{reg} must point to a constant string at a constant offset in a read-only map (.rodata), but "
                      "it is {value}",
    "const-str": "r{reg} must point to a constant NUL-terminated string, but {problem}",
    "map-kind": "r{reg} is map {map}, but {mismatch}; pass a map of the kind the helper works on",
    "no-inner-map": "the map of maps has no inner map template to check the inner map's uses against",
    "ctx": "r{reg} must be the context pointer the program received in r1 (unchanged), but it is {value}",
    "size-kind": "r{reg} must be a size (a number), but it is {value}",
    "size-const": "r{reg} must be a constant size, but it is {value}",
    "size-stack-const": "r{reg} must be a constant size in {profile}, but it is {value}",
    "size-negative": "r{reg} (a size) may be negative ({value}); bound it with a check such as `if rN > SIZE goto`",
    "size-zero": "r{reg} (a size) may be 0, which {helper} does not accept; make it at least 1",
    "size-unbounded": "r{reg} (a size) is unbounded ({value}); bound it with a check against the buffer size before "
                      "the call",
    "size-with-null": "r{reg} (a size) may be {umax}, but the buffer r{buffer} is NULL; pass a size of 0 with a NULL "
                      "buffer",
    "alloc": "r{reg} must be a record from bpf_ringbuf_reserve (non-NULL, unmoved), but it is {value}",
    "stack-only": "r{reg} must point to the stack in {profile}, but it is {value}",
    "format-length-const": "r5 (data_len) must be a constant, but it is {value}",
    "format-length-multiple": "r5 (data_len) is {length}, not a multiple of 8: the data is an array of 8-byte "
                              "arguments",
}


def _helper_arguments(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    case = f["case"]
    if case == "not-map":
        extra = " (compare it with 0 first)" if f["nullable"] else ""
        text = f"r{f['reg']} must be a map pointer (lddw of a map), but it is {f['value']}{extra}"
    elif case == "memory":
        nullable = " (compare it with 0 first)" if f["nullable"] else ""
        access = "writable" if f["write"] else "readable"
        text = (f"r{f['reg']} ({f['what']}) must point to {access} memory (the stack, a map value or a ring buffer "
                f"record), but it is {f['value']}{nullable}")
    elif case == "format":
        text = f"invalid format string {f['format']!r}: {f['problem']}"
    else:
        text = _ARGUMENTS[case].format(buffer=f["reg"] - 1, **f)
    return f"{f['helper']}: {text}"


def _helper_memory(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    case, reg, what = f["case"], f["reg"], f["what"]
    if case == "long-aligned":
        text = (f"r{reg} (an 8-byte result) must be 8-byte aligned, but its offset is {f['value']}; pass an aligned "
                "slot such as r10 - 8")
    elif case == "stack":
        text = (f"r{reg} ({what}) points to stack bytes [{f['lo']}, {f['hi']}), outside the {STACK_SIZE}-byte "
                "stack; make the buffer fit")
    elif case == "map-value":
        text = (f"r{reg} ({what}) may cover bytes [{f['lo']}, {f['hi']}) of a {f['value_size']}-byte value of map "
                f"{f['map']}; make it fit")
    else:
        text = (f"r{reg} ({what}) may cover bytes [{f['lo']}, {f['hi']}) of a {f['mem_size']}-byte ring buffer "
                "record; make it fit")
    return f"{f['helper']}: {text}"


def _helper_stack_constant_offset(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"{f['helper']}: r{f['reg']} ({f['what']}) points into the stack at a variable offset"


def _helper_memory_initialised(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['helper']}: r{f['reg']} ({f['what']}) points to {f['extent']} bytes of stack at offset {f['lo']}, "
            f"and byte {f['missing']} is not initialised; initialise the whole buffer first")


def _helper_memory_writable(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    if f["case"] == "map":
        return (f"{f['helper']}: r{f['reg']} is map {f['map']}, which is read-only for programs (.rodata or "
                f"BPF_F_RDONLY_PROG), and {f['helper']} writes it; change the map from user space, or use a "
                "writable map")
    return f"{f['helper']}: r{f['reg']} ({f['what']}) points into read-only map {f['map']}; pass a writable buffer"


def _callback_return(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"bpf_loop: the callback at insn {f['callback']} must return 0 (go on) or 1 (stop), as the kernel "
            f"requires, but it may return {f['value']}; return 0 or 1")


def _helper_modelled(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"{f['helper']}: r{f['reg']} must be {f['what']}; the call is refused"


def _references_bounded(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['helper']}: this call reserves a record while {f['limit']} earlier records it reserved are still "
            "held; submit or discard each record before reserving the next")


def _tail_call_released(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return ("tail_call: a tail call while holding a ring buffer record from bpf_ringbuf_reserve would leak it; "
            "submit or discard the record first")


def _tail_call_from_main(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return ("tail_call: tail calls are allowed only in the main function of a program without BTF function "
            "information; make the tail call from the main function")


def _call_depth(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"calls nest {f['frames']} frames deep; at most {f['limit']} frames are allowed; inline a function of "
            "the chain")


def _no_recursion(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    if "cycle" in f:
        return f"functions {f['cycle']} call each other; recursion is not allowed: turn it into a bounded loop"
    return f"the call at insn {alarm.pc} makes function {f['target']} call itself; recursion is not allowed"


def _r0_set(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return "exit returns r0, which is not set on some path to here; set r0 before exit"


def _references_released(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return ("the program exits while holding a ring buffer record from bpf_ringbuf_reserve; submit or discard it on "
            "every path")


def _no_stack_pointer_return(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"function {f['function']} returns a pointer to its own stack, which is gone after the return; return a "
            "value or a pointer the caller owns")


def _terminates(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    why = f["why"]
    if why == "shape":
        reason = "its blocks do not form a loop the analysis can follow"
    elif why == "forever":
        reason = ("a run reaches it in a state from which it goes round for ever (no exit test can become true, or "
                  "an iteration comes back with every register its tests depend on unchanged)")
    elif why == "repeat":
        reason = (f"iteration {f['iterations']} comes back to the loop head in a state it had before, so nothing in "
                  "the state bounds the number of iterations")
    else:
        from interp.flow import Listing

        listing = Listing.of(program.insns)
        parts = []
        if f["steps"]:
            parts.append("; ".join(f"r{reg} steps by {step:+d} (now {now})" for reg, step, now in f["steps"]))
        if f["exits"]:
            exits = [f"insn {pc} `{listing.by_pc[pc]}` ({', '.join(f'r{r} is {d}' for r, d in values)})"
                     for pc, values in f["exits"]]
            parts.append("the loop leaves only through " + " or ".join(exits))
        progress = ": " + "; ".join(parts) if parts else ""
        reason = (f"no exit was found within {f['iterations']} iterations ({f['budget']} instruction steps; "
                  f"--max-unroll follows longer loops){progress}")
    return (f"the loop at insn {f['head']} may not terminate: {reason}; bound it with a counter that the loop "
            "condition checks against a constant")


# -- the whole program ------------------------------------------------------------------------------


def _text(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f["text"]


def _program_type(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"{f['profile']} does not load {f['prog_type']} programs (it loads {f['kinds']}); choose another "
            "profile")


def _program_size(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"the program has {f['slots']} instructions; {f['profile']} loads at most {f['max']}; split it into "
            "tail-called programs")


def _complexity(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    loops = "; ".join(f"the loop at insn {head} runs up to {visits:,} times" for head, visits in f["loops"])
    return (f"a run may execute up to {f['worst']:,} instructions{' (' + loops + ')' if loops else ''}; "
            f"{f['profile']} processes at most {f['limit']:,} and refuses the program as too complex: run fewer "
            "iterations, or use bpf_loop")


def _kern_version(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    have = "no version section" if f["have"] is None else f"kern_version {f['have']:#x}"
    return (f"the program declares {have}, but {f['profile']} requires kern_version {f['target']:#x} (the target's "
            "LINUX_VERSION_CODE; set it with --kern-version or in the object's version section)")


def _valid_encoding(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"{f['reason']}; the kernel refuses such an instruction at load: encode it as RFC 9669 defines"


def _relocation(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"unresolved {f['kind']} relocation: {f['description']}; the kernel cannot load the program as it is"


def _reachable(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    if "text" in f:
        return f["text"]
    return f"insn {alarm.pc} can never run ({f['count']} unreachable instructions); remove dead code"


def _no_back_edge(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return f"back-edge from insn {alarm.pc} to {f['head']}: {f['profile']} allows no loops; unroll the loop"


def _combined_stack(f: dict[str, Any], alarm: Alarm, program: Program) -> str:
    return (f"the deepest chain of calls uses {f['total']} bytes of stack; together they may use at most 512; move "
            "large buffers into a per-CPU array map")


MESSAGES: dict[Kind, Render] = {
    Kind.INITIALISED: _initialised, Kind.CONSISTENT_KIND: _consistent,
    Kind.FRAME_POINTER_READ_ONLY: lambda f, a, p: "r10 is the read-only frame pointer; write another register",
    Kind.R0_SET_AT_EXIT: _r0_set, Kind.VALID_IMMEDIATE: _valid_immediate, Kind.POINTER_ARITHMETIC: _pointer_arithmetic,
    Kind.DEREFERENCEABLE: _dereferenceable, Kind.NOT_NULL: _not_null, Kind.CTX_ONE_POINTER_KIND: _ctx_one_kind,
    Kind.CTX_CONSTANT_OFFSET: _ctx_constant_offset, Kind.CTX_UNMOVED: _ctx_unmoved, Kind.CTX_READ_ONLY: _ctx_read_only,
    Kind.CTX_ALIGNED: _ctx_aligned, Kind.CTX_IN_BOUNDS: _ctx_in_bounds, Kind.STACK_IN_BOUNDS: _stack_in_bounds,
    Kind.STACK_ALIGNED: _stack_aligned, Kind.STACK_CONSTANT_OFFSET: _stack_constant_offset,
    Kind.STACK_INITIALISED: _stack_initialised, Kind.WHOLE_POINTER_FILL: _whole_fill,
    Kind.WHOLE_POINTER_SPILL: _whole_spill, Kind.STACK_POINTER_STAYS: _stack_pointer_stays,
    Kind.MAP_VALUE_IN_BOUNDS: _map_value_in_bounds, Kind.MAP_VALUE_WRITABLE: _map_value_writable,
    Kind.MAP_VALUE_ALIGNED: lambda f, a, p: str(f["says"]),
    Kind.MEM_IN_BOUNDS: _mem_in_bounds, Kind.ATOMIC_ALIGNED: _atomic_aligned,
    Kind.VALID_MAP_REFERENCE: _valid_map_reference, Kind.SUPPORTED: _supported, Kind.HELPER_ALLOWED: _helper_allowed,
    Kind.GPL_COMPATIBLE: _gpl, Kind.HELPER_ARGUMENTS: _helper_arguments,
    Kind.HELPER_STATIC_ARGUMENTS: _helper_arguments, Kind.HELPER_MEMORY: _helper_memory,
    Kind.HELPER_MEMORY_INITIALISED: _helper_memory_initialised, Kind.HELPER_MEMORY_WRITABLE: _helper_memory_writable,
    Kind.HELPER_MAP_WRITABLE: _helper_memory_writable, Kind.HELPER_STACK_CONSTANT_OFFSET: _helper_stack_constant_offset, Kind.HELPER_MODELLED: _helper_modelled,
    Kind.CALLBACK_RETURN: _callback_return,
    Kind.REFERENCES_BOUNDED: _references_bounded, Kind.TAIL_CALL_RELEASED: _tail_call_released,
    Kind.TAIL_CALL_FROM_MAIN: _tail_call_from_main, Kind.CALL_DEPTH: _call_depth, Kind.NO_RECURSION: _no_recursion,
    Kind.REFERENCES_RELEASED: _references_released, Kind.NO_STACK_POINTER_RETURN: _no_stack_pointer_return,
    Kind.TERMINATES: _terminates, Kind.NO_BACK_EDGE: _no_back_edge, Kind.REACHABLE: _reachable,
    Kind.PROGRAM_SIZE: _program_size, Kind.KERN_VERSION: _kern_version, Kind.PROGRAM_TYPE: _program_type,
    Kind.RELOCATIONS_RESOLVED: _relocation, Kind.VALID_CONTROL_FLOW: _text, Kind.VALID_ENCODING: _valid_encoding,
    Kind.COMBINED_STACK: _combined_stack, Kind.COMPLEXITY: _complexity,
}


def message(alarm: Alarm, program: Program) -> str:
    if "says" in alarm.facts:  # an alarm of the linux-4.1 walk brings its own sentence
        return str(alarm.facts["says"])
    if "unchecked" in alarm.facts:
        return (f"insn {alarm.pc}: whether r{alarm.obligation.reg} keeps the rule '{alarm.obligation.kind.value}' "
                f"is not known (the analysis could not check it once '{alarm.facts['unchecked']}' was broken, which "
                f"no run does); {alarm.obligation.rule.safe}")
    return MESSAGES[alarm.kind](alarm.facts, alarm, program)


def finding(alarm: Alarm, program: Program) -> Finding:
    line = program.source_lines.get(alarm.pc)
    return Finding(alarm.pc, alarm.code, message(alarm, program), str(line) if line and line.line else None,
                   kernel_message=alarm.facts.get("kernel"))


def findings(alarms: list[Alarm], program: Program) -> list[Finding]:
    """One finding per (pc, code): the first alarm's, in the order the analysis met them."""
    seen: dict[tuple[int, str], Finding] = {}
    for alarm in alarms:
        key = (alarm.pc, alarm.code)
        if key not in seen:
            seen[key] = finding(alarm, program)
    return list(seen.values())


__all__ = ["MESSAGES", "finding", "findings", "message"]
