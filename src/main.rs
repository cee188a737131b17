fn main() {
    finsync::main()
}
