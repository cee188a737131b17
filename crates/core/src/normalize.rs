//! Text normalisation for matching: encounter dedup (spec decision 6) and idempotency keys
//! compare names case- and whitespace-insensitively.

/// Lower-cases, trims and collapses runs of whitespace to one space.
pub fn normalize_text(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The identity of an encounter as the client and the dedup rule see it: calendar day,
/// normalised location name and normalised photographer, joined with a separator that cannot
/// occur in normalised text.
pub fn encounter_identity(date: &str, location_name: &str, photographer: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        date.trim(),
        normalize_text(location_name),
        normalize_text(photographer)
    )
}

/// Great-circle distance between two WGS84 points in kilometres (haversine).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_spaces() {
        assert_eq!(normalize_text("  Haro   Strait\t"), "haro strait");
        assert_eq!(normalize_text("ÅLAND"), "åland");
    }

    #[test]
    fn identity_ignores_case_and_spacing() {
        assert_eq!(
            encounter_identity("2024-07-15", "Haro Strait", "J  Smith"),
            encounter_identity("2024-07-15 ", "haro strait", "j smith")
        );
        assert_ne!(
            encounter_identity("2024-07-15", "Haro", "J Smith"),
            encounter_identity("2024-07-16", "Haro", "J Smith")
        );
    }

    #[test]
    fn distance_is_plausible() {
        // One degree of latitude is about 111 km.
        let d = distance_km(48.0, -123.0, 49.0, -123.0);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        assert!(distance_km(48.5, -123.1, 48.5, -123.1) < 1e-9);
    }
}
