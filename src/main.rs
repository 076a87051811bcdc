//! The `imcnas` command line; all work happens in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
