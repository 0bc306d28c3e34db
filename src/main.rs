fn main() -> std::process::ExitCode {
    polarmap::cli::main()
}
