//! The search strategies, each asked for one batch (a generation) of new genomes at a time
//! and told their evaluations: NSGA-II, random sampling, regularised (aging) evolution
//! with a Pareto-rank tournament, and exhaustive enumeration of a small space (the
//! surrogate-assisted strategy is in [`super::surrogate`]).

use super::pareto::{Point, crowding_distances, non_dominated_fronts, select_by_rank_and_crowding};
use super::space::{Genome, Space, genome_key};
use rand::Rng;
use rand::seq::index::sample;
use std::collections::HashSet;

/// A genome with its evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// The genome.
    pub genome: Genome,
    /// Its objectives (minimised) and constraint violation.
    pub point: Point,
}

/// Draws before a strategy gives up finding a genome not evaluated yet.
const FRESH_TRIES: usize = 64;

/// A strategy: proposes genomes and learns from their evaluations.
pub trait Optimizer {
    /// Up to `want` genomes not in `seen` and distinct from each other; fewer (or none)
    /// when the strategy cannot find more.
    fn ask(
        &mut self,
        space: &Space,
        rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome>;

    /// The evaluations of the last batch asked for.
    fn tell(&mut self, batch: &[Evaluated]);
}

/// Keeps drawing from `draw` until it yields a genome neither in `seen` nor in `taken`.
fn fresh(
    seen: &HashSet<Vec<u64>>,
    taken: &mut HashSet<Vec<u64>>,
    mut draw: impl FnMut() -> Genome,
) -> Option<Genome> {
    for _ in 0..FRESH_TRIES {
        let genome = draw();
        let key = genome_key(&genome);
        if !seen.contains(&key) && taken.insert(key) {
            return Some(genome);
        }
    }
    None
}

/// Up to `want` distinct genomes drawn uniformly, none in `seen`.
pub(super) fn random_batch(
    space: &Space,
    rng: &mut impl Rng,
    seen: &HashSet<Vec<u64>>,
    want: usize,
) -> Vec<Genome> {
    let mut taken = HashSet::new();
    (0..want)
        .map_while(|_| fresh(seen, &mut taken, || space.random(rng)))
        .collect()
}

/// Uniform random sampling.
#[derive(Default)]
pub struct RandomSearch;

impl Optimizer for RandomSearch {
    fn ask(
        &mut self,
        space: &Space,
        rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome> {
        random_batch(space, rng, seen, want)
    }

    fn tell(&mut self, _batch: &[Evaluated]) {}
}

/// Every genome of a choice-only space, in order.
#[derive(Default)]
pub struct Exhaustive {
    next: u128,
}

impl Optimizer for Exhaustive {
    fn ask(
        &mut self,
        space: &Space,
        _rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome> {
        let size = space.size().unwrap_or(0);
        let mut batch = Vec::new();
        while batch.len() < want && self.next < size {
            let genome = space.nth(self.next);
            self.next += 1;
            if !seen.contains(&genome_key(&genome)) {
                batch.push(genome);
            }
        }
        batch
    }

    fn tell(&mut self, _batch: &[Evaluated]) {}
}

/// NSGA-II (Deb et al. 2002): binary tournaments on rank and crowding, crossover and
/// mutation, and elitist selection of the next population from parents and children.
pub struct Nsga2 {
    population_size: usize,
    population: Vec<Evaluated>,
}

impl Nsga2 {
    /// NSGA-II keeping `population_size` individuals.
    pub fn new(population_size: usize) -> Self {
        Self {
            population_size: population_size.max(2),
            population: Vec::new(),
        }
    }
}

/// Rank (front index) and crowding distance of every member of `members`.
fn rank_and_crowding(members: &[Evaluated]) -> (Vec<usize>, Vec<f64>) {
    let points: Vec<Point> = members.iter().map(|m| m.point.clone()).collect();
    let mut rank = vec![0; members.len()];
    let mut crowding = vec![0.0; members.len()];
    for (r, front) in non_dominated_fronts(&points).iter().enumerate() {
        for (&i, d) in front.iter().zip(crowding_distances(&points, front)) {
            rank[i] = r;
            crowding[i] = d;
        }
    }
    (rank, crowding)
}

impl Optimizer for Nsga2 {
    fn ask(
        &mut self,
        space: &Space,
        rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome> {
        if self.population.len() < 2 {
            return random_batch(space, rng, seen, want);
        }
        let (rank, crowding) = rank_and_crowding(&self.population);
        let n = self.population.len();
        let tournament = |rng: &mut rand_chacha::ChaCha8Rng| {
            let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
            let a_wins = rank[a] < rank[b] || (rank[a] == rank[b] && crowding[a] > crowding[b]);
            &self.population[if a_wins { a } else { b }].genome
        };
        let mut taken = HashSet::new();
        let mut children: Vec<Genome> = Vec::with_capacity(want);
        let mut pending: Vec<Genome> = Vec::new();
        let mut misses = 0;
        while children.len() < want && misses < FRESH_TRIES {
            if pending.is_empty() {
                let (p, q) = (tournament(rng).clone(), tournament(rng).clone());
                let (mut c, mut d) = space.crossover(&p, &q, rng);
                space.mutate(&mut c, rng);
                space.mutate(&mut d, rng);
                pending = vec![d, c];
            }
            let child = pending.pop().expect("refilled above");
            let key = genome_key(&child);
            if !seen.contains(&key) && taken.insert(key) {
                children.push(child);
                misses = 0;
            } else {
                misses += 1;
            }
        }
        // A converged population may breed only known genomes: top up with fresh draws.
        if children.len() < want {
            let mut seen_now = seen.clone();
            seen_now.extend(taken);
            children.extend(random_batch(space, rng, &seen_now, want - children.len()));
        }
        children
    }

    fn tell(&mut self, batch: &[Evaluated]) {
        self.population.extend_from_slice(batch);
        if self.population.len() <= self.population_size {
            return;
        }
        let points: Vec<Point> = self.population.iter().map(|m| m.point.clone()).collect();
        let keep = select_by_rank_and_crowding(&points, self.population_size);
        self.population = keep.iter().map(|&i| self.population[i].clone()).collect();
    }
}

/// Regularised evolution (Real et al. 2019) for several objectives: the population is the
/// most recent `population_size` evaluations; each child mutates the winner of a random
/// sample of `sample_size`, the winner being a random member of the sample's first
/// Pareto front; the oldest members age out.
pub struct RegularizedEvolution {
    population_size: usize,
    sample_size: usize,
    population: std::collections::VecDeque<Evaluated>,
}

impl RegularizedEvolution {
    /// Aging evolution with the given population and tournament sample sizes.
    pub fn new(population_size: usize, sample_size: usize) -> Self {
        Self {
            population_size: population_size.max(2),
            sample_size: sample_size.clamp(1, population_size.max(2)),
            population: std::collections::VecDeque::new(),
        }
    }
}

impl Optimizer for RegularizedEvolution {
    fn ask(
        &mut self,
        space: &Space,
        rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome> {
        if self.population.len() < self.population_size {
            let missing = self.population_size - self.population.len();
            return random_batch(space, rng, seen, want.min(missing));
        }
        let mut taken = HashSet::new();
        let mut children = Vec::with_capacity(want);
        for _ in 0..want {
            let picked = sample(rng, self.population.len(), self.sample_size).into_vec();
            let points: Vec<Point> = picked
                .iter()
                .map(|&i| self.population[i].point.clone())
                .collect();
            let best = &non_dominated_fronts(&points)[0];
            let parent = &self.population[picked[best[rng.random_range(0..best.len())]]].genome;
            let child = fresh(seen, &mut taken, || {
                let mut child = parent.clone();
                for _ in 0..FRESH_TRIES {
                    space.mutate(&mut child, rng);
                    if child != *parent {
                        break;
                    }
                }
                child
            });
            match child {
                Some(child) => children.push(child),
                None => break,
            }
        }
        if children.is_empty() {
            children = random_batch(space, rng, seen, want);
        }
        children
    }

    fn tell(&mut self, batch: &[Evaluated]) {
        self.population.extend(batch.iter().cloned());
        while self.population.len() > self.population_size {
            self.population.pop_front();
        }
    }
}
