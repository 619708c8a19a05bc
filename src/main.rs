use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    newsletter::cli::run(newsletter::cli::Cli::parse())
}
