//! The did-you-mean for fields nobody knows: `timeout_secs` → `timeout_seconds`.

/// The known field an unknown one was probably meant to be: the closest by edit distance
/// (case-insensitive, a swap of two neighbours counting as one edit) when that distance is at most
/// 2 or at most a quarter of the longer name (`timeout_secs` → `timeout_seconds`), or else a known
/// field that it begins (`timeout` → `timeout_seconds`).
pub(super) fn suggestion<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_lowercase();
    let near = known
        .iter()
        .map(|k| (edit_distance(&unknown, k), *k))
        .filter(|(d, k)| *d <= 2 || *d * 4 <= unknown.chars().count().max(k.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    near.or_else(|| {
        (unknown.chars().count() >= 4)
            .then(|| known.iter().find(|k| k.starts_with(&unknown)).copied())
            .flatten()
    })
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of adjacent
/// characters each cost one.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}
