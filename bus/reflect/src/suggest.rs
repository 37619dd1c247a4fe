//! "Did you mean …?" for names typed by people.

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo
/// (at most a third of the name's length, at least 1; a candidate that contains the name or
/// that the name contains also counts). Ties go to the first candidate.
pub fn did_you_mean<'a, I, S>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str> + 'a,
{
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, String)> = None;
    for c in candidates {
        let c = c.as_ref();
        if c == name {
            continue;
        }
        let cl = c.to_lowercase();
        let d = levenshtein(&lower, &cl);
        // Containment (`speed` for `chassis/speed`, or the last segment of a long name) is a
        // strong hint even when the edit distance is large.
        let contains = !lower.is_empty()
            && ((lower.len() >= 3 && cl.contains(&lower)) || (cl.len() >= 3 && lower.contains(&cl)));
        let last_segment =
            cl.rsplit(['.', '/']).next().is_some_and(|last| levenshtein(&lower, last) <= limit);
        let score = if d <= limit {
            d
        } else if contains || last_segment {
            limit + 1
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, c.to_owned()));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_find_nothing() {
        let names = ["chassis/speed", "powertrain/battery", "body/drive_mode"];
        assert_eq!(did_you_mean("chassis/sped", names).as_deref(), Some("chassis/speed"));
        assert_eq!(did_you_mean("speed", names).as_deref(), Some("chassis/speed"));
        assert_eq!(did_you_mean("body/drive_mod", names).as_deref(), Some("body/drive_mode"));
        assert_eq!(did_you_mean("xyz", names), None);
        assert_eq!(did_you_mean("kphh", ["kph", "odometer_m"]).as_deref(), Some("kph"));
        assert_eq!(
            did_you_mean("VehicleSped", ["demo.vehicle.VehicleSpeed"]).as_deref(),
            Some("demo.vehicle.VehicleSpeed")
        );
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
    }
}
