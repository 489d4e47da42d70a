"""The caps of the code box's evaluator, in one place (a shared classroom server runs it)."""

MAX_SOURCE_CHARS = 20_000  # the box's text
MAX_AST_NODES = 6_000  # syntax tree size
MAX_STEPS = 300_000  # expression/statement evaluations, all together
MAX_ITERATIONS = 20_000  # loop and comprehension iterations, all together
MAX_RANGE = 10_000  # elements of one range(...)
MAX_DEPTH = 16  # nested calls of functions defined in the box
MAX_MODULES = 2_000  # nn layers created
MAX_PARAMS = 150_000_000  # parameters (VGG-16 has 138 M); counted on the meta device
MAX_SECONDS = 3.0  # wall time of one evaluation
MAX_INT_BITS = 64  # integers beyond ±2**64 are refused (no 10**10**10)
MAX_SEQUENCE = 10_000  # elements of a list/tuple/string built by * or +
MAX_FORMAT_WIDTH = 1_000  # width/precision in an f-string or a % format
MAX_NESTING = 100  # containers inside containers
MAX_LAYER_CALLS = 20_000  # layer calls of one forward pass (a layer shared 2**40 times is not)
SANDBOX_MEMORY = 1 << 30  # bytes the evaluating process may add to its address space
SANDBOX_CPU_S = 4  # CPU seconds of the evaluating process (it holds an analysis worker)
SANDBOX_WALL_S = 6.0  # wall-clock seconds before it is killed
MAX_TENSOR_ELEMENTS = 1 << 28  # values of one tensor a forward written in the box may make
MAX_FORWARD_STEPS = 300_000  # interpreter steps of one forward pass (all box classes together)
