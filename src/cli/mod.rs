//! The command line: verbs a researcher would say, help text from the doc comments.
//! Errors print as one line (`error: ...` with their context chain) and exit non-zero.

mod cost;
mod demo;
mod eval;
mod mvm;
mod progress;
mod run;
mod train;

use clap::{Parser, Subcommand, ValueEnum};
use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::backend::gpu::GpuBackend;
use std::process::ExitCode;

/// Analog in-memory-computing co-design: simulate crossbars, train, search.
#[derive(Parser, Debug)]
#[command(name = "imcnas", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment: train a weight-sharing supernet, search architecture x compression
    /// x hardware for accuracy on simulated chips, energy, latency and area, fine-tune the
    /// best subnets, evaluate them and write the report. With no file, the embedded digits
    /// experiment.
    Run(run::RunArgs),
    /// Search on a supernet trained by an earlier `imcnas run` (its `supernet` folder) and
    /// report the Pareto front, without fine-tuning or final evaluation.
    Search(run::SearchArgs),
    /// Search strategies compared on a table experiment (a cell space with search.table)
    /// against its exhaustive Pareto front: front recall, hypervolume gap and queries to
    /// 99.5% of the true hypervolume, over seeds and budgets.
    Benchmark(run::BenchmarkArgs),
    /// How well a supernet ranks subnets: sampled subnets' accuracy with the shared weights
    /// against the same subnets trained from scratch (Kendall's tau).
    Rank(run::RankArgs),
    /// The crossbar engine on a random 512x512 layer under every hardware preset, errors
    /// against the float GEMM.
    Demo(demo::DemoArgs),
    /// Analog matrix-vector products of a layer on crossbar hardware:
    /// Y = tile(X . W^T) + b over one or more chip instances.
    Mvm(mvm::MvmArgs),
    /// Train a network (LeNet or a small ResNet) on a dataset, optionally hardware-aware, and
    /// export it to the network format.
    Train(train::TrainArgs),
    /// Test accuracy of a trained network on crossbar hardware over chip instances and drift
    /// times, beside its float accuracy.
    Eval(eval::EvalArgs),
    /// Energy, latency and area of a network on the chip of a hardware configuration's
    /// [cost] section (a NeuroSim-style component model).
    Cost(cost::CostArgs),
}

/// Where the kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU if there is one, otherwise the CPU (with a notice).
    Auto,
    /// The CPU backend.
    Cpu,
    /// A GPU through wgpu, software adapters (llvmpipe) included.
    Gpu,
}

/// A backend chosen at run time; commands are generic over [`Backend`] and dispatch here.
pub enum AnyBackend {
    /// See [`CpuBackend`].
    Cpu(CpuBackend),
    /// See [`GpuBackend`].
    Gpu(Box<GpuBackend>),
}

impl AnyBackend {
    /// Opens the chosen backend.
    ///
    /// # Errors
    /// `gpu` without any adapter.
    pub fn open(choice: BackendChoice) -> anyhow::Result<Self> {
        Ok(match choice {
            BackendChoice::Cpu => AnyBackend::Cpu(CpuBackend),
            BackendChoice::Gpu => AnyBackend::Gpu(Box::new(GpuBackend::new(true)?)),
            BackendChoice::Auto => match GpuBackend::new(false) {
                Ok(gpu) => AnyBackend::Gpu(Box::new(gpu)),
                Err(_) => {
                    eprintln!(
                        "notice: no hardware GPU found; running on the CPU (use --backend gpu for a software adapter)"
                    );
                    AnyBackend::Cpu(CpuBackend)
                }
            },
        })
    }

    /// One line naming the backend.
    pub fn describe(&self) -> String {
        match self {
            AnyBackend::Cpu(b) => b.describe(),
            AnyBackend::Gpu(b) => b.describe(),
        }
    }
}

/// Calls a generic function with the concrete backend.
macro_rules! with_backend {
    ($any:expr, |$b:ident| $body:expr) => {
        match $any {
            $crate::cli::AnyBackend::Cpu($b) => $body,
            $crate::cli::AnyBackend::Gpu($b) => {
                let $b: &imcnas::backend::gpu::GpuBackend = $b;
                $body
            }
        }
    };
}
pub(crate) use with_backend;

/// Parses the command line, runs the command, prints errors on one line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Search(args) => run::search(&args),
        Command::Rank(args) => run::rank(&args),
        Command::Benchmark(args) => run::benchmark(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Mvm(args) => mvm::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Cost(args) => cost::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
