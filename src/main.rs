fn main() { finsync::main() }
