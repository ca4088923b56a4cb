fn main() {
    std::process::exit(cargo_gocache::main());
}
