//! The search strategies on problems whose Pareto fronts are known: NSGA-II on ZDT1 and
//! ZDT2 against the true front's hypervolume, every strategy's bookkeeping (distinct
//! genomes, budget, batches), and replaying a search from its evaluations.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use imcnas::search::pareto::{Point, hypervolume};
use imcnas::search::{self, Genome, SearchSettings, Space, Strategy, genome_key};
use std::collections::{HashMap, HashSet};

/// ZDT1 (convex front f2 = 1 - sqrt(f1)) and ZDT2 (concave, f2 = 1 - f1^2), 30 variables.
fn zdt(genome: &Genome, concave: bool) -> Point {
    let f1 = genome[0];
    let g = 1.0 + 9.0 * genome[1..].iter().sum::<f64>() / (genome.len() - 1) as f64;
    let ratio = f1 / g;
    let h = if concave {
        1.0 - ratio * ratio
    } else {
        1.0 - ratio.sqrt()
    };
    Point::feasible(vec![f1, g * h])
}

fn true_front_hypervolume(concave: bool, reference: &[f64]) -> f64 {
    let n = 10_001;
    let front: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let f1 = i as f64 / (n - 1) as f64;
            let f2 = if concave {
                1.0 - f1 * f1
            } else {
                1.0 - f1.sqrt()
            };
            vec![f1, f2]
        })
        .collect();
    hypervolume(&front, reference)
}

fn nsga2_reaches_true_front(concave: bool) -> f64 {
    let settings = SearchSettings {
        strategy: Strategy::Nsga2,
        population: 100,
        budget: 25_000,
        sample_size: 10,
        seed: 1,
    };
    let mut evaluator = |genomes: &[Genome]| Ok(genomes.iter().map(|g| zdt(g, concave)).collect());
    let outcome = search::run(&Space::unit_cube(30), &settings, &mut evaluator, |_| {}).unwrap();
    assert_eq!(outcome.evaluated.len(), settings.budget);
    assert_eq!(outcome.generation_ends.len(), 250);
    let front: Vec<Vec<f64>> = outcome
        .front_of_first(outcome.evaluated.len())
        .iter()
        .map(|&i| outcome.evaluated[i].point.objectives.clone())
        .collect();
    let reference = [1.0, 1.0];
    hypervolume(&front, &reference) / true_front_hypervolume(concave, &reference)
}

#[test]
fn nsga2_reaches_95_percent_of_zdt1_true_front_hypervolume() {
    let ratio = nsga2_reaches_true_front(false);
    println!("ZDT1: {:.4} of the true front's hypervolume", ratio);
    assert!(ratio >= 0.95, "{ratio}");
}

#[test]
fn nsga2_reaches_95_percent_of_zdt2_true_front_hypervolume() {
    let ratio = nsga2_reaches_true_front(true);
    println!("ZDT2: {:.4} of the true front's hypervolume", ratio);
    assert!(ratio >= 0.95, "{ratio}");
}

/// A small choice-only space with a front that trades the genes off: objectives are
/// simple but not separable.
fn choice_space() -> Space {
    Space::choices(&[3, 4, 5, 2, 3])
}

fn choice_objectives(genome: &Genome) -> Point {
    let capacity: f64 = genome
        .iter()
        .enumerate()
        .map(|(i, v)| (i + 1) as f64 * v)
        .sum();
    let cost = genome[0] * genome[1] + genome[2] + 0.5 * genome[3] * genome[4];
    let violation = if capacity < 2.0 { 2.0 - capacity } else { 0.0 };
    Point {
        objectives: vec![-capacity, cost],
        violation,
    }
}

#[test]
fn every_strategy_evaluates_distinct_genomes_in_batches_within_budget() {
    let space = choice_space();
    let size = space.size().unwrap() as usize;
    for strategy in [
        Strategy::Nsga2,
        Strategy::Random,
        Strategy::RegularizedEvolution,
        Strategy::Exhaustive,
    ] {
        let settings = SearchSettings {
            strategy,
            population: 16,
            budget: 100,
            sample_size: 4,
            seed: 3,
        };
        let mut batches = Vec::new();
        let mut evaluator = |genomes: &[Genome]| {
            batches.push(genomes.len());
            Ok(genomes.iter().map(choice_objectives).collect())
        };
        let outcome = search::run(&space, &settings, &mut evaluator, |_| {}).unwrap();
        let keys: HashSet<Vec<u64>> = outcome
            .evaluated
            .iter()
            .map(|e| genome_key(&e.genome))
            .collect();
        assert_eq!(
            keys.len(),
            outcome.evaluated.len(),
            "{strategy:?} repeated a genome"
        );
        assert_eq!(outcome.evaluated.len(), 100, "{strategy:?}");
        assert!(
            batches.iter().all(|&b| b <= 16),
            "{strategy:?}: {batches:?}"
        );
        assert_eq!(batches.iter().sum::<usize>(), 100);
        assert_eq!(*outcome.generation_ends.last().unwrap(), 100);
        for e in &outcome.evaluated {
            assert_eq!(e.point, choice_objectives(&e.genome));
        }
    }
    // With a budget beyond the space, exhaustive search visits every genome once and stops.
    let settings = SearchSettings {
        strategy: Strategy::Exhaustive,
        population: 50,
        budget: 10_000,
        sample_size: 4,
        seed: 0,
    };
    let mut evaluator = |genomes: &[Genome]| Ok(genomes.iter().map(choice_objectives).collect());
    let outcome = search::run(&space, &settings, &mut evaluator, |_| {}).unwrap();
    assert_eq!(outcome.evaluated.len(), size);
}

#[test]
fn nsga2_with_a_quarter_of_the_evaluations_finds_most_of_the_exhaustive_front() {
    let space = choice_space();
    let size = space.size().unwrap() as usize;
    let mut evaluator = |genomes: &[Genome]| Ok(genomes.iter().map(choice_objectives).collect());
    let exhaustive = SearchSettings {
        strategy: Strategy::Exhaustive,
        population: 32,
        budget: size,
        sample_size: 4,
        seed: 0,
    };
    let all = search::run(&space, &exhaustive, &mut evaluator, |_| {}).unwrap();
    let truth: HashSet<Vec<u64>> = all
        .front_of_first(size)
        .iter()
        .map(|&i| genome_key(&all.evaluated[i].genome))
        .collect();
    // Averaged over seeds: one run's share moves in steps of 1 / front size.
    let seeds = 1..=8u64;
    let mut shares = Vec::new();
    for seed in seeds {
        let nsga = SearchSettings {
            strategy: Strategy::Nsga2,
            population: 12,
            budget: size / 4,
            sample_size: 4,
            seed,
        };
        let found = search::run(&space, &nsga, &mut evaluator, |_| {}).unwrap();
        let front: HashSet<Vec<u64>> = found
            .front_of_first(found.evaluated.len())
            .iter()
            .map(|&i| genome_key(&found.evaluated[i].genome))
            .collect();
        shares.push(truth.intersection(&front).count() as f64 / truth.len() as f64);
    }
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    println!(
        "front of {} genomes; found with {} of {size} evaluations: {shares:?}, mean {mean:.3}",
        truth.len(),
        size / 4
    );
    assert!(mean >= 0.8, "{mean}");
}

#[test]
fn a_search_replayed_from_its_evaluations_takes_the_same_path() {
    let space = choice_space();
    for strategy in [
        Strategy::Nsga2,
        Strategy::RegularizedEvolution,
        Strategy::Random,
    ] {
        let settings = SearchSettings {
            strategy,
            population: 10,
            budget: 80,
            sample_size: 4,
            seed: 11,
        };
        let mut evaluator =
            |genomes: &[Genome]| Ok(genomes.iter().map(choice_objectives).collect());
        let first = search::run(&space, &settings, &mut evaluator, |_| {}).unwrap();
        // A "killed" run logged the first 35 evaluations; the replay answers those from the
        // log and sends only the others to the evaluator.
        let log: HashMap<Vec<u64>, Point> = first.evaluated[..35]
            .iter()
            .map(|e| (genome_key(&e.genome), e.point.clone()))
            .collect();
        let mut fresh = 0;
        let mut replaying = |genomes: &[Genome]| {
            Ok(genomes
                .iter()
                .map(|g| {
                    log.get(&genome_key(g)).cloned().unwrap_or_else(|| {
                        fresh += 1;
                        choice_objectives(g)
                    })
                })
                .collect())
        };
        let second = search::run(&space, &settings, &mut replaying, |_| {}).unwrap();
        assert_eq!(first, second, "{strategy:?}");
        assert_eq!(fresh, 80 - 35, "{strategy:?}");
    }
}
