//! A surrogate-assisted strategy: after a first random batch, every batch is proposed by
//! random forests fitted on the evaluations so far, one ensemble per objective (smartcore's
//! `RandomForestRegressor`, several forests of different seeds, so that their spread tells
//! how sure the prediction is). Candidates come from a pool of random genomes and the
//! one-gene neighbours of the current Pareto front; each is scored by its optimistic
//! prediction (mean minus one spread per objective, all minimised), and the batch is filled
//! by non-dominated rank and crowding on those scores, as NSGA-II selects, but among
//! predictions rather than evaluations. The predictor-guided search of BANANAS (White et
//! al. 2021) and of IBM's AnalogNAS works the same way.

use super::pareto::{Point, pareto_front, select_by_rank_and_crowding};
use super::space::{GeneKind, Genome, Space, genome_key};
use super::strategies::{Evaluated, Optimizer, random_batch};
use rand::Rng;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::collections::HashSet;

/// Forests per objective; their spread is the prediction's uncertainty.
const FORESTS: usize = 4;
/// Trees per forest.
const TREES: usize = 8;
/// Random genomes in each batch's candidate pool (beside the front's neighbours).
const RANDOM_POOL: usize = 1000;
/// Spreads subtracted from each predicted objective (optimism under uncertainty).
const OPTIMISM: f64 = 1.0;

/// The surrogate-assisted strategy.
pub struct Surrogate {
    batch: usize,
    history: Vec<Evaluated>,
}

impl Surrogate {
    /// A surrogate search whose first batch of `batch` genomes is drawn at random.
    pub fn new(batch: usize) -> Self {
        Surrogate {
            batch: batch.max(2),
            history: Vec::new(),
        }
    }
}

/// The features of a genome: a real gene scaled to [0, 1]; a choice gene as its option's
/// position in [0, 1] (options are ordered: widths, bits) and one-hot.
fn features(space: &Space, genome: &Genome) -> Vec<f64> {
    let mut x = Vec::new();
    for (gene, &v) in space.genes.iter().zip(genome) {
        match gene.kind {
            GeneKind::Real { low, high } => x.push(if high > low {
                (v - low) / (high - low)
            } else {
                0.0
            }),
            GeneKind::Choice { options } => {
                x.push(if options > 1 {
                    v / (options - 1) as f64
                } else {
                    0.0
                });
                if options > 2 {
                    x.extend((0..options).map(|o| f64::from(u8::from(o as f64 == v))));
                }
            }
        }
    }
    x
}

/// Every genome one choice gene away from `genome`.
fn neighbours(space: &Space, genome: &Genome) -> Vec<Genome> {
    let mut out = Vec::new();
    for (i, gene) in space.genes.iter().enumerate() {
        if let GeneKind::Choice { options } = gene.kind {
            for o in 0..options {
                if o as f64 != genome[i] {
                    let mut g = genome.clone();
                    g[i] = o as f64;
                    out.push(g);
                }
            }
        }
    }
    out
}

/// Row-major rows as smartcore's matrix.
fn matrix(rows: &[Vec<f64>]) -> Option<DenseMatrix<f64>> {
    let cols = rows.first()?.len();
    DenseMatrix::new(rows.len(), cols, rows.concat(), false).ok()
}

/// Mean and spread over the ensemble's forests of each objective, for each of `pool`;
/// `None` when a forest cannot be fitted (too few or constant features).
fn predict(
    train_x: &DenseMatrix<f64>,
    targets: &[Vec<f64>],
    pool_x: &DenseMatrix<f64>,
    pool: usize,
    seed: u64,
) -> Option<Vec<Vec<(f64, f64)>>> {
    let mut out = vec![Vec::with_capacity(targets.len()); pool];
    for (k, y) in targets.iter().enumerate() {
        let mut sums = vec![(0.0, 0.0); pool];
        for f in 0..FORESTS {
            let params = RandomForestRegressorParameters::default()
                .with_n_trees(TREES)
                .with_seed(seed.wrapping_add((k * FORESTS + f) as u64));
            let forest = RandomForestRegressor::fit(train_x, y, params).ok()?;
            let p: Vec<f64> = forest.predict(pool_x).ok()?;
            for (s, v) in sums.iter_mut().zip(p) {
                *s = (s.0 + v, s.1 + v * v);
            }
        }
        for (o, (sum, sq)) in out.iter_mut().zip(sums) {
            let mean = sum / FORESTS as f64;
            let var = (sq / FORESTS as f64 - mean * mean).max(0.0);
            o.push((mean, var.sqrt()));
        }
    }
    Some(out)
}

impl Optimizer for Surrogate {
    fn ask(
        &mut self,
        space: &Space,
        rng: &mut rand_chacha::ChaCha8Rng,
        seen: &HashSet<Vec<u64>>,
        want: usize,
    ) -> Vec<Genome> {
        if self.history.len() < self.batch {
            return random_batch(space, rng, seen, want);
        }
        // The pool: the front's neighbours and fresh random genomes, each once, none seen.
        let points: Vec<Point> = self.history.iter().map(|e| e.point.clone()).collect();
        let mut taken = HashSet::new();
        let mut pool = Vec::new();
        let mut offer = |g: Genome, pool: &mut Vec<Genome>| {
            let key = genome_key(&g);
            if !seen.contains(&key) && taken.insert(key) {
                pool.push(g);
            }
        };
        for i in pareto_front(&points) {
            for g in neighbours(space, &self.history[i].genome) {
                offer(g, &mut pool);
            }
        }
        for _ in 0..RANDOM_POOL {
            offer(space.random(rng), &mut pool);
        }
        if pool.len() <= want {
            return pool;
        }
        let train: Vec<Vec<f64>> = self
            .history
            .iter()
            .map(|e| features(space, &e.genome))
            .collect();
        let objectives = points[0].objectives.len();
        let targets: Vec<Vec<f64>> = (0..objectives)
            .map(|k| points.iter().map(|p| p.objectives[k]).collect())
            .collect();
        let pool_rows: Vec<Vec<f64>> = pool.iter().map(|g| features(space, g)).collect();
        let seed: u64 = rng.random();
        let predicted = matrix(&train)
            .zip(matrix(&pool_rows))
            .and_then(|(tx, px)| predict(&tx, &targets, &px, pool.len(), seed));
        let Some(predicted) = predicted else {
            return random_batch(space, rng, seen, want);
        };
        let scores: Vec<Point> = predicted
            .iter()
            .map(|o| Point::feasible(o.iter().map(|(m, s)| m - OPTIMISM * s).collect()))
            .collect();
        let chosen = select_by_rank_and_crowding(&scores, want);
        chosen.into_iter().map(|i| pool[i].clone()).collect()
    }

    fn tell(&mut self, batch: &[Evaluated]) {
        self.history.extend_from_slice(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_neighbours_follow_the_genes() {
        let space = Space::choices(&[1, 2, 5]);
        let x = features(&space, &vec![0.0, 1.0, 2.0]);
        assert_eq!(x, vec![0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let n = neighbours(&space, &vec![0.0, 1.0, 2.0]);
        assert_eq!(n.len(), 1 + 4);
        assert!(n.iter().all(|g| g != &vec![0.0, 1.0, 2.0]));
    }
}
