//! What shared caches may do with a file's content.

/// The `Cache-Control` of a file's content: the bucket's value as it is for a public file. For a
/// private file, every directive that would let a shared cache store it (`public`, `s-maxage`) is
/// dropped and `private` comes first, so no cache sees a contradiction to resolve by storing.
pub fn file_cache_control(bucket_value: &str, public: bool) -> String {
    let bucket_value = bucket_value.trim();
    if public {
        return bucket_value.to_owned();
    }
    let kept = bucket_value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let name = d
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            !matches!(name.as_str(), "public" | "private" | "s-maxage")
        });
    std::iter::once("private")
        .chain(kept)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Directives as a shared cache reads them: lower-case names.
    fn directives(value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|d| {
                d.split('=')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect()
    }

    #[test]
    fn private_files_give_shared_caches_nothing_to_store() {
        for bucket in [
            "public, max-age=86400",
            "max-age=60, s-maxage=600, PUBLIC",
            "Public,Private, max-age=5",
            "",
            "no-store",
        ] {
            let value = file_cache_control(bucket, false);
            let d = directives(&value);
            assert_eq!(d[0], "private", "{bucket} -> {value}");
            assert!(!d.contains(&"public".to_owned()), "{bucket} -> {value}");
            assert!(!d.contains(&"s-maxage".to_owned()), "{bucket} -> {value}");
            assert_eq!(d.iter().filter(|x| *x == "private").count(), 1);
        }
        assert!(file_cache_control("no-store", false).contains("no-store"));
        assert!(file_cache_control("public, max-age=86400", false).contains("max-age=86400"));
    }

    #[test]
    fn public_files_keep_the_bucket_value() {
        assert_eq!(
            file_cache_control(" public, max-age=86400 ", true),
            "public, max-age=86400"
        );
    }
}
