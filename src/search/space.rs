//! The genes a search varies and the operators that draw and vary them: real genes in an
//! interval (simulated binary crossover, polynomial mutation) and choice genes over an
//! ordered list of options (uniform crossover, a step to a neighbouring option or a
//! fresh draw).

use rand::Rng;

/// What values one gene takes.
#[derive(Clone, Debug, PartialEq)]
pub enum GeneKind {
    /// A real number in `[low, high]`.
    Real {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// An index into `options` ordered options (0-based), stored as an integer value.
    Choice {
        /// How many options there are (at least 1).
        options: usize,
    },
}

/// One named gene.
#[derive(Clone, Debug, PartialEq)]
pub struct Gene {
    /// Name, for reports.
    pub name: String,
    /// Its values.
    pub kind: GeneKind,
}

/// A genome: one value per gene of its space (choice genes hold their option index).
pub type Genome = Vec<f64>;

/// The exact identity of a genome, for caches and logs.
pub fn genome_key(genome: &Genome) -> Vec<u64> {
    genome.iter().map(|v| v.to_bits()).collect()
}

/// The genes of a search, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Every gene.
    pub genes: Vec<Gene>,
}

/// Distribution index of simulated binary crossover (Deb & Agrawal 1995; NSGA-II's 15).
const SBX_ETA: f64 = 15.0;
/// Distribution index of polynomial mutation (NSGA-II's 20).
const MUTATION_ETA: f64 = 20.0;
/// Probability that a pair of parents is crossed at all.
const CROSSOVER_PROBABILITY: f64 = 0.9;

impl Space {
    /// Checks that `genome` belongs to the space: one value per gene, a real gene within its
    /// interval, a choice gene an index of one of its options.
    ///
    /// # Errors
    /// The first gene that does not fit, named.
    pub fn check(&self, genome: &Genome) -> std::result::Result<(), String> {
        if genome.len() != self.genes.len() {
            return Err(format!(
                "a genome of {} genes, the space has {}",
                genome.len(),
                self.genes.len()
            ));
        }
        for (gene, &value) in self.genes.iter().zip(genome) {
            let fits = match gene.kind {
                GeneKind::Real { low, high } => value >= low && value <= high,
                GeneKind::Choice { options } => {
                    value >= 0.0 && value.fract() == 0.0 && value < options as f64
                }
            };
            if !fits {
                return Err(format!(
                    "gene {} = {value} is not one of its values",
                    gene.name
                ));
            }
        }
        Ok(())
    }

    /// A space of `n` real genes in `[0, 1]` (the ZDT test problems).
    pub fn unit_cube(n: usize) -> Self {
        Self {
            genes: (0..n)
                .map(|i| Gene {
                    name: format!("x{i}"),
                    kind: GeneKind::Real {
                        low: 0.0,
                        high: 1.0,
                    },
                })
                .collect(),
        }
    }

    /// A space of choice genes `g0, g1, ...` with the given option counts.
    pub fn choices(options: &[usize]) -> Self {
        Self {
            genes: options
                .iter()
                .enumerate()
                .map(|(i, &options)| Gene {
                    name: format!("g{i}"),
                    kind: GeneKind::Choice { options },
                })
                .collect(),
        }
    }

    /// Number of distinct genomes when every gene is a choice; `None` with a real gene or
    /// when the count overflows.
    pub fn size(&self) -> Option<u128> {
        self.genes.iter().try_fold(1u128, |n, g| match g.kind {
            GeneKind::Choice { options } => n.checked_mul(options as u128),
            GeneKind::Real { .. } => None,
        })
    }

    /// The `index`-th genome in lexicographic order of a choice-only space (last gene
    /// fastest); `index` must be below [`Self::size`].
    pub fn nth(&self, mut index: u128) -> Genome {
        let mut genome = vec![0.0; self.genes.len()];
        for (value, gene) in genome.iter_mut().zip(&self.genes).rev() {
            if let GeneKind::Choice { options } = gene.kind {
                *value = (index % options as u128) as f64;
                index /= options as u128;
            }
        }
        genome
    }

    /// A genome drawn uniformly.
    pub fn random(&self, rng: &mut impl Rng) -> Genome {
        self.genes
            .iter()
            .map(|g| match g.kind {
                GeneKind::Real { low, high } => rng.random_range(low..=high),
                GeneKind::Choice { options } => rng.random_range(0..options) as f64,
            })
            .collect()
    }

    /// Two children of two parents: simulated binary crossover on real genes, a uniform
    /// swap on choice genes.
    pub fn crossover(&self, a: &Genome, b: &Genome, rng: &mut impl Rng) -> (Genome, Genome) {
        let (mut c, mut d) = (a.clone(), b.clone());
        if !rng.random_bool(CROSSOVER_PROBABILITY) {
            return (c, d);
        }
        for (i, gene) in self.genes.iter().enumerate() {
            if !rng.random_bool(0.5) {
                continue;
            }
            match gene.kind {
                GeneKind::Choice { .. } => std::mem::swap(&mut c[i], &mut d[i]),
                GeneKind::Real { low, high } => {
                    let (x, y) = sbx_pair(a[i], b[i], low, high, rng);
                    c[i] = x;
                    d[i] = y;
                }
            }
        }
        (c, d)
    }

    /// Mutates each gene with probability `1 / genes`: polynomial mutation on real genes;
    /// on choice genes a step to a neighbouring option (options are ordered: widths,
    /// bits) or, half the time, a fresh draw of another option.
    pub fn mutate(&self, genome: &mut Genome, rng: &mut impl Rng) {
        let rate = 1.0 / self.genes.len().max(1) as f64;
        for (value, gene) in genome.iter_mut().zip(&self.genes) {
            if !rng.random_bool(rate) {
                continue;
            }
            match gene.kind {
                GeneKind::Real { low, high } => {
                    *value = polynomial_mutation(*value, low, high, rng)
                }
                GeneKind::Choice { options } if options > 1 => {
                    let current = *value as usize;
                    let next = if rng.random_bool(0.5) {
                        if current == 0 || (current + 1 < options && rng.random_bool(0.5)) {
                            current + 1
                        } else {
                            current - 1
                        }
                    } else {
                        let other = rng.random_range(0..options - 1);
                        if other >= current { other + 1 } else { other }
                    };
                    *value = next as f64;
                }
                GeneKind::Choice { .. } => {}
            }
        }
    }
}

/// Simulated binary crossover of one variable, bounded (Deb & Agrawal 1995, with the
/// bounded spread of Deb's NSGA-II code).
fn sbx_pair(a: f64, b: f64, low: f64, high: f64, rng: &mut impl Rng) -> (f64, f64) {
    if (a - b).abs() < 1e-14 || high <= low {
        return (a, b);
    }
    let (y1, y2) = if a < b { (a, b) } else { (b, a) };
    let u: f64 = rng.random();
    let spread = |beta: f64| {
        let alpha = 2.0 - beta.powf(-(SBX_ETA + 1.0));
        if u <= 1.0 / alpha {
            (u * alpha).powf(1.0 / (SBX_ETA + 1.0))
        } else {
            (1.0 / (2.0 - u * alpha)).powf(1.0 / (SBX_ETA + 1.0))
        }
    };
    let beta_low = 1.0 + 2.0 * (y1 - low) / (y2 - y1);
    let beta_high = 1.0 + 2.0 * (high - y2) / (y2 - y1);
    let c1 = 0.5 * ((y1 + y2) - spread(beta_low) * (y2 - y1));
    let c2 = 0.5 * ((y1 + y2) + spread(beta_high) * (y2 - y1));
    let (c1, c2) = (c1.clamp(low, high), c2.clamp(low, high));
    if rng.random_bool(0.5) {
        (c2, c1)
    } else {
        (c1, c2)
    }
}

/// Polynomial mutation of one bounded variable (Deb & Goyal 1996).
fn polynomial_mutation(x: f64, low: f64, high: f64, rng: &mut impl Rng) -> f64 {
    if high <= low {
        return x;
    }
    let range = high - low;
    let (d1, d2) = ((x - low) / range, (high - x) / range);
    let u: f64 = rng.random();
    let power = 1.0 / (MUTATION_ETA + 1.0);
    let dq = if u < 0.5 {
        let v = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - d1).powf(MUTATION_ETA + 1.0);
        v.powf(power) - 1.0
    } else {
        let v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - d2).powf(MUTATION_ETA + 1.0);
        1.0 - v.powf(power)
    };
    (x + dq * range).clamp(low, high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn enumeration_visits_every_genome_once() {
        let space = Space::choices(&[2, 3, 4]);
        assert_eq!(space.size(), Some(24));
        let all: std::collections::HashSet<Vec<u64>> =
            (0..24).map(|i| genome_key(&space.nth(i))).collect();
        assert_eq!(all.len(), 24);
        assert_eq!(space.nth(23), vec![1.0, 2.0, 3.0]);
        assert_eq!(Space::unit_cube(2).size(), None);
    }

    #[test]
    fn operators_stay_inside_the_space() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut space = Space::choices(&[1, 2, 5]);
        space.genes.push(Gene {
            name: "r".into(),
            kind: GeneKind::Real {
                low: -2.0,
                high: 3.0,
            },
        });
        let mut moved = 0;
        for _ in 0..2000 {
            let (a, b) = (space.random(&mut rng), space.random(&mut rng));
            let (mut c, d) = space.crossover(&a, &b, &mut rng);
            let before = c.clone();
            space.mutate(&mut c, &mut rng);
            moved += usize::from(before != c);
            for genome in [&c, &d] {
                assert_eq!(genome[0], 0.0);
                assert!(genome[1] == 0.0 || genome[1] == 1.0);
                assert!((0.0..5.0).contains(&genome[2]) && genome[2].fract() == 0.0);
                assert!((-2.0..=3.0).contains(&genome[3]));
            }
        }
        // One gene in four mutates on average: about 1 - (3/4)^4 of the genomes change.
        assert!(moved > 900, "{moved}");
    }
}
