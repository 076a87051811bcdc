//! Multi-objective search over a space of genes: the strategies ([`Strategy`]: NSGA-II,
//! random, regularised evolution, exhaustive, and a surrogate-assisted one), Pareto
//! sorting and hypervolume ([`pareto`]), and the loop that sends each generation to an
//! [`Evaluator`] as one batch.
//!
//! A search is deterministic given its seed and the evaluations it is told: every random
//! draw comes from one ChaCha stream, in order. Resuming a killed search therefore replays
//! it from the start with the logged evaluations answering for the genomes already
//! evaluated; only genomes never evaluated reach the evaluator, and none twice.

pub mod pareto;
pub mod space;
mod strategies;
mod surrogate;

pub use crate::config::Strategy;
use crate::error::Result;
use pareto::Point;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
pub use space::{Gene, GeneKind, Genome, Space, genome_key};
use std::collections::HashSet;
pub use strategies::Evaluated;
use strategies::{Exhaustive, Nsga2, Optimizer, RandomSearch, RegularizedEvolution};
use surrogate::Surrogate;

/// Evaluates a batch (one generation) of genomes.
pub trait Evaluator {
    /// One point per genome, in order.
    ///
    /// # Errors
    /// Whatever stops the evaluation (a failed engine run, an I/O error on the log).
    fn evaluate(&mut self, genomes: &[Genome]) -> Result<Vec<Point>>;
}

impl<F: FnMut(&[Genome]) -> Result<Vec<Point>>> Evaluator for F {
    fn evaluate(&mut self, genomes: &[Genome]) -> Result<Vec<Point>> {
        self(genomes)
    }
}

/// The settings of one search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSettings {
    /// The strategy.
    pub strategy: Strategy,
    /// Genomes per generation (the batch sent to the evaluator), and NSGA-II's and
    /// regularised evolution's population size.
    pub population: usize,
    /// Distinct genomes to evaluate in all.
    pub budget: usize,
    /// Regularised evolution's tournament sample.
    pub sample_size: usize,
    /// Seed of every draw.
    pub seed: u64,
}

/// What a search did: every distinct genome evaluated, in order, and where each
/// generation ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchOutcome {
    /// Every evaluation, in the order made.
    pub evaluated: Vec<Evaluated>,
    /// The number of evaluations at the end of each generation.
    pub generation_ends: Vec<usize>,
}

impl SearchOutcome {
    /// Indices into [`Self::evaluated`] of the feasible Pareto front of the first `count`
    /// evaluations.
    pub fn front_of_first(&self, count: usize) -> Vec<usize> {
        let points: Vec<Point> = self.evaluated[..count]
            .iter()
            .map(|e| e.point.clone())
            .collect();
        pareto::pareto_front(&points)
    }
}

/// Runs a search until its budget is spent or its strategy has nothing new to propose,
/// calling `on_generation` after each generation with the outcome so far.
///
/// # Errors
/// Whatever the evaluator returns, and an evaluator that answers a batch with the wrong
/// number of points.
pub fn run(
    space: &Space,
    settings: &SearchSettings,
    evaluator: &mut dyn Evaluator,
    mut on_generation: impl FnMut(&SearchOutcome),
) -> Result<SearchOutcome> {
    let mut optimizer: Box<dyn Optimizer> = match settings.strategy {
        Strategy::Nsga2 => Box::new(Nsga2::new(settings.population)),
        Strategy::Random => Box::new(RandomSearch),
        Strategy::RegularizedEvolution => Box::new(RegularizedEvolution::new(
            settings.population,
            settings.sample_size,
        )),
        Strategy::Exhaustive => Box::new(Exhaustive::default()),
        Strategy::Surrogate => Box::new(Surrogate::new(settings.population)),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut seen = HashSet::new();
    let mut outcome = SearchOutcome::default();
    while outcome.evaluated.len() < settings.budget {
        let want = settings
            .population
            .max(1)
            .min(settings.budget - outcome.evaluated.len());
        let genomes = optimizer.ask(space, &mut rng, &seen, want);
        if genomes.is_empty() {
            break;
        }
        let points = evaluator.evaluate(&genomes)?;
        if points.len() != genomes.len() {
            return Err(crate::Error::Search(format!(
                "the evaluator answered {} genomes with {} points",
                genomes.len(),
                points.len()
            )));
        }
        let batch: Vec<Evaluated> = genomes
            .into_iter()
            .zip(points)
            .map(|(genome, point)| Evaluated { genome, point })
            .collect();
        seen.extend(batch.iter().map(|e| genome_key(&e.genome)));
        optimizer.tell(&batch);
        outcome.evaluated.extend(batch);
        outcome.generation_ends.push(outcome.evaluated.len());
        on_generation(&outcome);
    }
    Ok(outcome)
}
