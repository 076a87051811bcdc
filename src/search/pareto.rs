//! Pareto dominance with constraints, non-dominated sorting, crowding distance and the
//! hypervolume indicator. Every objective here is minimised; callers flip the sign of
//! objectives they maximise before they get here.

/// One evaluated point as the sorting sees it: objective values (all minimised) and the
/// total constraint violation (0 when feasible).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Objective values, minimised.
    pub objectives: Vec<f64>,
    /// Sum of the constraints' normalised violations; 0 for a feasible point.
    pub violation: f64,
}

impl Point {
    /// A feasible point.
    pub fn feasible(objectives: Vec<f64>) -> Self {
        Self {
            objectives,
            violation: 0.0,
        }
    }
}

/// Constrained dominance (Deb 2002): a feasible point beats an infeasible one, of two
/// infeasible points the smaller violation wins, and two feasible points compare by
/// Pareto dominance (no worse in every objective, better in one).
pub fn dominates(a: &Point, b: &Point) -> bool {
    match (a.violation > 0.0, b.violation > 0.0) {
        (false, true) => true,
        (true, false) => false,
        (true, true) => a.violation < b.violation,
        (false, false) => objectives_dominate(&a.objectives, &b.objectives),
    }
}

/// Plain Pareto dominance between two objective vectors (minimised).
pub fn objectives_dominate(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        better |= x < y;
    }
    better
}

/// Fast non-dominated sort: the fronts, best first, each a list of indices into `points`.
pub fn non_dominated_fronts(points: &[Point]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in (i + 1)..n {
            if dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of one front (same order as `front`): the
/// normalised side lengths of the cuboid its neighbours span, infinite at the extremes.
pub fn crowding_distances(points: &[Point], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    if front.len() <= 2 {
        return vec![f64::INFINITY; front.len()];
    }
    let objectives = points[front[0]].objectives.len();
    let mut order: Vec<usize> = (0..front.len()).collect();
    for m in 0..objectives {
        let value = |k: usize| points[front[k]].objectives[m];
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)));
        let (low, high) = (value(order[0]), value(order[order.len() - 1]));
        distance[order[0]] = f64::INFINITY;
        distance[order[order.len() - 1]] = f64::INFINITY;
        if high > low {
            for k in 1..order.len() - 1 {
                distance[order[k]] += (value(order[k + 1]) - value(order[k - 1])) / (high - low);
            }
        }
    }
    distance
}

/// NSGA-II's environmental selection: the indices of `n` of `points` (ascending), whole
/// non-dominated fronts in rank order, the first front that does not fit filled by
/// descending crowding distance.
pub fn select_by_rank_and_crowding(points: &[Point], n: usize) -> Vec<usize> {
    let mut keep = Vec::with_capacity(n.min(points.len()));
    for front in non_dominated_fronts(points) {
        if keep.len() + front.len() <= n {
            keep.extend_from_slice(&front);
            continue;
        }
        let crowding = crowding_distances(points, &front);
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| crowding[b].total_cmp(&crowding[a]));
        let room = n - keep.len();
        keep.extend(order[..room].iter().map(|&k| front[k]));
        break;
    }
    keep.sort_unstable();
    keep
}

/// Indices of the feasible, non-dominated points (duplicates of an objective vector
/// are kept once, the first).
pub fn pareto_front(points: &[Point]) -> Vec<usize> {
    let mut front: Vec<usize> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        if p.violation > 0.0 {
            continue;
        }
        let beaten = points
            .iter()
            .any(|q| q.violation == 0.0 && objectives_dominate(&q.objectives, &p.objectives));
        let repeated = front.iter().any(|&j| points[j].objectives == p.objectives);
        if !beaten && !repeated {
            front.push(i);
        }
    }
    front
}

/// Hypervolume dominated by `points` (minimised objectives) inside the box bounded by
/// `reference`; points not strictly better than the reference in every objective add
/// nothing. Exact, by slicing along the last objective (HSO); fine for the few hundred
/// points of a search front in up to five objectives.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .cloned()
        .collect();
    hso(inside, reference)
}

fn hso(mut points: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() {
        return 0.0;
    }
    if d == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    if d == 2 {
        points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        let mut volume = 0.0;
        let mut ceiling = reference[1];
        for p in &points {
            if p[1] < ceiling {
                volume += (reference[0] - p[0]) * (ceiling - p[1]);
                ceiling = p[1];
            }
        }
        return volume;
    }
    // Slice along the last objective: between consecutive values, the dominated region
    // is the (d-1)-dimensional hypervolume of the points already passed.
    points.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    let mut volume = 0.0;
    for i in 0..points.len() {
        let top = points
            .get(i + 1)
            .map_or(reference[d - 1], |next| next[d - 1]);
        let depth = top - points[i][d - 1];
        if depth <= 0.0 {
            continue;
        }
        let slice: Vec<Vec<f64>> = points[..=i].iter().map(|p| p[..d - 1].to_vec()).collect();
        volume += hso(non_dominated(slice), &reference[..d - 1]) * depth;
    }
    volume
}

fn non_dominated(points: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    points
        .iter()
        .filter(|p| !points.iter().any(|q| objectives_dominate(q, p)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_ranks_fronts_and_puts_feasible_first() {
        let points = vec![
            Point::feasible(vec![1.0, 4.0]),
            Point::feasible(vec![2.0, 2.0]),
            Point::feasible(vec![3.0, 3.0]),
            Point {
                objectives: vec![0.0, 0.0],
                violation: 0.5,
            },
            Point::feasible(vec![4.0, 1.0]),
        ];
        let fronts = non_dominated_fronts(&points);
        assert_eq!(fronts[0], vec![0, 1, 4]);
        assert_eq!(fronts[1], vec![2]);
        assert_eq!(fronts[2], vec![3]);
        assert_eq!(pareto_front(&points), vec![0, 1, 4]);
        let crowding = crowding_distances(&points, &fronts[0]);
        assert!(crowding[0].is_infinite() && crowding[2].is_infinite());
        assert!((crowding[1] - 2.0).abs() < 1e-12, "{crowding:?}");
    }

    #[test]
    fn hypervolume_matches_boxes_counted_by_hand() {
        // Two boxes of 2x1 and 1x2 that overlap in 1x1: 3 units in all.
        let front = vec![vec![1.0, 2.0], vec![2.0, 1.0]];
        assert!((hypervolume(&front, &[3.0, 3.0]) - 3.0).abs() < 1e-12);
        // In 3-D the union of two unit-offset cubes, by inclusion-exclusion.
        let cubes = vec![vec![0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
        let expected = 2.0 * 2.0 * 1.0 + 1.0 * 1.0 * 2.0 - 1.0 * 1.0 * 1.0;
        assert!((hypervolume(&cubes, &[2.0, 2.0, 2.0]) - expected).abs() < 1e-12);
        // A dominated point and one outside the reference box change nothing.
        let mut more = cubes.clone();
        more.push(vec![1.5, 1.5, 1.5]);
        more.push(vec![0.0, 0.0, 5.0]);
        assert!((hypervolume(&more, &[2.0, 2.0, 2.0]) - expected).abs() < 1e-12);
    }

    #[test]
    fn hypervolume_of_random_points_agrees_with_monte_carlo() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let points: Vec<Vec<f64>> = (0..12).map(|_| vec![next(), next(), next()]).collect();
        let exact = hypervolume(&points, &[1.0, 1.0, 1.0]);
        let samples = 200_000;
        let hits = (0..samples)
            .filter(|_| {
                let s = [next(), next(), next()];
                points.iter().any(|p| p.iter().zip(&s).all(|(a, b)| a <= b))
            })
            .count();
        let estimate = hits as f64 / samples as f64;
        assert!((exact - estimate).abs() < 0.005, "{exact} vs {estimate}");
    }
}
