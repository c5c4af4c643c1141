//! Indicator cells (指标单元) from stored matters: the bridge between the
//! store's rows and the pure rules of `pingan_domain::indicators`.
use std::collections::BTreeMap;

use pingan_domain::indicators::{self, CellKey, Counters, MatterFacts};
use pingan_domain::workflow::State;

/// A stored matter's facts, as the indicators see them; `None` for a state
/// this version does not know.
pub fn facts_of(m: &crate::Matter) -> Option<MatterFacts> {
    Some(MatterFacts {
        state: m.state.parse::<State>().ok()?,
        grid_code: m.grid_code.clone(),
        category: m.category_code.clone(),
        holder: m.holder.clone(),
        deadline: m.deadline,
        closed_at: m.closed_at,
        overdue: m.overdue,
        rework_count: m.rework_count,
    })
}

/// The cells a new report adds to.
pub fn report_facts(m: &crate::NewMatter) -> Option<MatterFacts> {
    Some(MatterFacts {
        state: m.state.parse::<State>().ok()?,
        grid_code: m.grid_code.clone(),
        category: m.category_code.clone(),
        holder: m.holder.clone(),
        deadline: None,
        closed_at: None,
        overdue: false,
        rework_count: 0,
    })
}

/// Adds an action's deltas between two stored versions of a matter.
pub fn action_deltas(
    cells: &mut BTreeMap<CellKey, Counters>,
    before: &crate::Matter,
    after: &crate::Matter,
    action: &str,
    rating: Option<i64>,
    at: i64,
) {
    if let (Some(b), Some(a)) = (facts_of(before), facts_of(after)) {
        indicators::accumulate(cells, indicators::deltas(Some(&b), &a, action, rating, at));
    }
}

/// Rolls cells up: per (day, township) and per (day, county, category).
#[allow(clippy::type_complexity)]
pub fn rollups(
    cells: &BTreeMap<CellKey, Counters>,
) -> (
    BTreeMap<(i64, String), Counters>,
    BTreeMap<(i64, String, String), Counters>,
) {
    let mut townships: BTreeMap<(i64, String), Counters> = BTreeMap::new();
    let mut counties: BTreeMap<(i64, String, String), Counters> = BTreeMap::new();
    for (k, c) in cells {
        *townships.entry((k.day, k.township.clone())).or_default() += c;
        let county = k.township[..6.min(k.township.len())].to_string();
        *counties
            .entry((k.day, county, k.category.clone()))
            .or_default() += c;
    }
    (townships, counties)
}

/// Rolls township days up into township months (keyed by the month's first
/// day), leaving out the gauges.
pub fn months(townships: &BTreeMap<(i64, String), Counters>) -> BTreeMap<(i64, String), Counters> {
    let mut out: BTreeMap<(i64, String), Counters> = BTreeMap::new();
    for ((day, township), c) in townships.iter().filter(|((d, _), _)| *d >= 0) {
        *out.entry((indicators::month_start(*day), township.clone()))
            .or_default() += c;
    }
    out
}
