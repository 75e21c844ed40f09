//! `Accept-Language` (RFC 9110 §12.5.4) read into the reader's languages, most wanted first.
//! Whatever a client sends is only a preference: an entry that does not parse is skipped, never
//! an error.

use unic_langid::LanguageIdentifier;

/// At most this many entries are read: a real browser sends a handful, and the header is
/// attacker-controlled.
const MAX_ENTRIES: usize = 32;

/// The languages of an `Accept-Language` value by descending weight (`q`), in the order given
/// among equal weights; `q=0` (not acceptable), `*`, malformed tags and malformed weights are
/// left out.
pub fn accepted_languages(header: &str) -> Vec<LanguageIdentifier> {
    let mut weighted: Vec<(u16, LanguageIdentifier)> = header
        .split(',')
        .take(MAX_ENTRIES)
        .filter_map(entry)
        .filter(|(q, _)| *q > 0)
        .collect();
    // Stable: equal weights keep the client's order.
    weighted.sort_by_key(|(q, _)| std::cmp::Reverse(*q));
    weighted.into_iter().map(|(_, tag)| tag).collect()
}

/// One `tag;q=0.8` entry: its weight in thousandths and its language.
fn entry(item: &str) -> Option<(u16, LanguageIdentifier)> {
    let mut parts = item.split(';');
    let tag = parts.next()?.trim();
    let mut q = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = weight(value.trim())?;
        }
    }
    Some((q, parse_tag(tag)?))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn weight(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A language tag as a client or an app writes it (`pt-BR`, `pt_br`, `zh-Hans`); `*` and
/// anything that is not a language tag are `None`. Extensions (`-u-…`, `-x-…`) are dropped.
pub fn parse_tag(tag: &str) -> Option<LanguageIdentifier> {
    let tag = tag.trim();
    if tag.is_empty() || tag == "*" || tag.len() > 64 || !tag.is_ascii() {
        return None;
    }
    let lower = tag.to_ascii_lowercase().replace('_', "-");
    let base = ["-u-", "-t-", "-x-"]
        .iter()
        .filter_map(|ext| lower.find(ext))
        .min()
        .map_or(lower.as_str(), |at| &lower[..at]);
    let id: LanguageIdentifier = base.parse().ok()?;
    // `und` says nothing about the reader's language.
    (id.language.as_str() != "und").then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(header: &str) -> Vec<String> {
        accepted_languages(header)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn weights_order_the_languages_and_ties_keep_the_clients_order() {
        assert_eq!(
            tags("fr;q=0.5, de-CH, en;q=0.9, ja;q=0.9"),
            ["de-CH", "en", "ja", "fr"]
        );
        assert_eq!(tags("da, en-GB;q=0.8, en;q=0.7"), ["da", "en-GB", "en"]);
        assert_eq!(tags("de;q=1.000, fr;Q=0.001"), ["de", "fr"]);
    }

    #[test]
    fn zero_weight_wildcards_and_garbage_are_left_out() {
        assert_eq!(tags("de;q=0, *;q=0.5, en"), ["en"]);
        assert_eq!(tags("de;q=0.000"), Vec::<String>::new());
        for malformed in [
            "de;q=2",
            "de;q=1.5",
            "de;q=0.1234",
            "de;q=-1",
            "de;q=",
            "de;q=abc",
            "de;q=0.5x",
            "de;q",
            "de;q=1.001",
            "de;q=NaN",
            "de;q=inf",
        ] {
            assert_eq!(tags(&format!("{malformed}, ja")), ["ja"], "{malformed}");
        }
        for nonsense in [
            "",
            ",,,",
            ";;",
            "=",
            "12345",
            "a-very-long-not-a-tag-at-all",
            "€",
            "de\u{0}",
            "q=0.5",
            " ; q=1",
        ] {
            assert_eq!(tags(nonsense), Vec::<String>::new(), "{nonsense:?}");
        }
    }

    #[test]
    fn tags_are_read_leniently_and_extensions_dropped() {
        assert_eq!(tags("PT_br"), ["pt-BR"]);
        assert_eq!(tags("zh-hans-cn"), ["zh-Hans-CN"]);
        assert_eq!(tags("en-US-u-ca-gregory"), ["en-US"]);
        assert_eq!(tags("de-x-private"), ["de"]);
        assert_eq!(tags("und, i-klingon"), Vec::<String>::new());
    }

    #[test]
    fn a_huge_header_is_read_only_so_far() {
        let header = vec!["xx"; 10_000].join(",") + ",de";
        assert_eq!(tags(&header), vec!["xx"; MAX_ENTRIES]);
    }
}
