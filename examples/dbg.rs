fn main() {
    for a in std::env::args().skip(1) {
        let raw = std::fs::read(&a).unwrap();
        println!("{:#?}", bouncedoc::notice::read(&raw));
    }
}
