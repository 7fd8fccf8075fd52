//! Reading what a host's `/metrics` says, as a scraper would.

/// The value of the first sample whose line contains every one of `parts` (comment lines skipped); panics with the
/// whole text when there is none.
pub fn sample(text: &str, parts: &[&str]) -> f64 {
    let line = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no sample with {parts:?} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_sample_by_its_parts() {
        let text = "# HELP x\nwasmcc_x_total{chaincode=\"a\"} 3\nwasmcc_x_total{chaincode=\"b\"} 4.5\n";
        assert_eq!(super::sample(text, &["wasmcc_x_total{", "\"b\""]), 4.5);
    }
}
