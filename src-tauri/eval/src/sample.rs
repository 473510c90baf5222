//! Which items a run asks: per category, all of them up to the limit, else the limit's worth
//! chosen by a seeded shuffle of ids (Fin-R1's authors took all under 1,000, else 1,000).

use std::collections::BTreeMap;

use super::item::Item;

/// Fin-R1's authors' rule.
pub const DEFAULT_LIMIT: usize = 1_000;

/// The chosen items, grouped by category in name order, each group in shuffled order.
pub fn choose(items: &[Item], limit: usize, seed: u64) -> Vec<Item> {
    let mut by_category: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for it in items {
        by_category.entry(it.category.as_str()).or_default().push(it);
    }
    let mut out = Vec::new();
    for (_, mut group) in by_category {
        // Ordered by a keyed hash of the id: the same seed picks the same items whatever order
        // the file lists them in, on every machine.
        group.sort_by_key(|it| (mix(seed, &it.id), it.id.clone()));
        out.extend(group.into_iter().take(limit).cloned());
    }
    out
}

/// FNV-1a over the seed and the id, then SplitMix64's finaliser.
fn mix(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Kind;

    fn item(cat: &str, id: usize) -> Item {
        Item {
            id: format!("{cat}-{id}"),
            bench: "t".into(),
            category: cat.into(),
            kind: Kind::Numeric,
            question: "q".into(),
            context: None,
            choices: None,
            answer: "1".into(),
        }
    }

    #[test]
    fn limit_per_category_seeded_and_order_free() {
        let mut items: Vec<Item> = (0..50).map(|i| item("a", i)).chain((0..3).map(|i| item("b", i))).collect();
        let chosen = choose(&items, 10, 7);
        assert_eq!(chosen.iter().filter(|i| i.category == "a").count(), 10);
        assert_eq!(chosen.iter().filter(|i| i.category == "b").count(), 3, "all of a small category");
        items.reverse();
        let again: Vec<String> = choose(&items, 10, 7).into_iter().map(|i| i.id).collect();
        assert_eq!(again, chosen.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
        let other: Vec<String> = choose(&items, 10, 8).into_iter().map(|i| i.id).collect();
        assert_ne!(other, again);
    }
}
