"""Every limit archdsl keeps, in one place: what a spec, a command or a drawing may cost at most. Each
stage refuses past its limit with a ``LimitError`` (file:line:column, a hint) or a usage error, before the
work it bounds begins: a hostile or careless input gets an answer, never a hang, a crash or a full disk.

docs/language.md ("Limits") lists the ones a spec can reach; tests/test_guards.py meets each one."""

# ------------------------------------------------------------------ reading a spec (archdsl.lang)
MAX_SOURCE_BYTES = 100_000  # ten times the largest library spec; parsing runs at about 20 µs a byte
MAX_BRACKETS = 50  # brackets open at once: [ ( { -{
MAX_TREE_DEPTH = 200  # parse-tree depth (long expressions like 1+1+...+1, ------8); keeps recursion bounded
MAX_DEPTH = 64  # nested block instances / imports
MAX_STEPS = 500_000  # elements, statements, loop iterations and characters read (~1 s): bounds loops that build nothing
MAX_INT = 2**53  # the language's largest number: every integer a double holds exactly
MAX_VALUES = 5_000_000  # elements of the tuples expressions build (nested ones counted), and of those
# that min / max and comparisons look at, while loading one spec
MAX_RANGE = 100_000  # values of one range()
MAX_NODES = 100_000  # 125 times the largest library network; check takes ~3 s for this many (benchmarks/big_specs.py)
MAX_NESTING = 100  # elements inside one another (brackets, groups, merges, blocks, if / for), so no RecursionError
MEMO_ARGS = 1_000  # elements of a block's arguments past which the bound of its expansion is not remembered

# ------------------------------------------------------------------ building and running (archdsl.ir, archdsl.backend)
MAX_PARAMS = 2_000_000_000  # parameters and buffers: 8 GB of float32, more than this machine class holds
MAX_MEMORY = 16_000_000_000  # bytes a forward pass (or a training step) may need
MAX_ELEMENTS = 2**60  # values in one tensor: torch (even on the meta device) sizes at most 2^63 bytes, 8 a value

# ------------------------------------------------------------------ solving input sizes (archdsl.ir.symbolic)
MAX_MODULUS = 4096  # residues tried per relation; beyond it a relation is kept as it is (unsolved)
MAX_THRESHOLD = 100_000  # the largest q threshold solved by listing the values below it
MAX_START = 200_000  # sizes listed one by one below where a relation turns periodic; past it, unsolved
MAX_SLOW_MODULUS = 256  # residues tried through sympy (floors of ratios of sizes), each some milliseconds
MAX_RUNS = 256  # forks of one rule on one region
MAX_REGIMES = 64  # regions with different shapes alive at once

# ------------------------------------------------------------------ drawing (archdsl.views)
MAX_ROWS = 40  # the report's automatic depth keeps the table within about one screen
MAX_RICH_ROWS = 2_000  # past this many rows a table rich would fold is drawn plainly (rich takes ~0.4 ms a row)
MAX_BOXES = 100  # the diagram's automatic depth keeps it within about this many boxes
MAX_TEXT = 200  # characters of a name or of the folded layers written in a box (longer ones end in '…')
MAX_ID = 1000  # characters of a quoted DOT string (Graphviz refuses one over 16,384)
WALK_BUDGET = 4_000_000  # layers the search for skip connections may visit, all merges together: past it (only
# graphs of many merges that each span most of the network come near) the remaining edges are plain data edges
DOT_TIMEOUT = 120  # seconds dot may take (a concat of 4,000 branches at --depth all takes it ~30 s)
MAX_EXTENT = 500.0  # cm: a larger TikZ picture is drawn to scale within this

# ------------------------------------------------------------------ the command line and the cache
MAX_EXACT = MAX_INT  # the largest count an option takes (docs/language.md, Limits)
MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit seed
MAX_DIGITS = 40  # a number longer than this is not one anyone means
MAX_LINE = 400  # characters of one line of a message (a 5,000-character path is cut)
MAX_ENTRY_BYTES = 64 * 2**20  # a cache entry: the lark tables are ~200 kB, a library AST ~100 kB
