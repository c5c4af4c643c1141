//! The safety report (平安报表): indicators per region, period and category,
//! rankings of sibling regions, three-colour warnings and their settings.
//!
//! Regions at township level and above read the aggregate cells that every
//! report and action maintains (`pingan_domain::indicators`), so a report's
//! cost depends on the period and the number of regions, not on the history.
//! Villages and grids are computed live from their matters' event logs with
//! the same pure functions, which gives the same numbers.
use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use pingan_domain::calendar::LocalDate;
use pingan_domain::indicators::{
    self, Basis, Better, CellKey, Colour, Comparison, Counter, Counters, IndexNode, Indicator,
    LoggedAction, Period, PeriodKind, WarningRule, GAUGE_DAY,
};
use pingan_domain::notice::AlertSettings;
use pingan_domain::{Level, Role, Scope};
use pingan_storage::{now_ms, Account, CellGroup, CellQuery, MatterFilter, Page, Region, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::overview::{home_region, prefix_of, visible_region};
use crate::routes::RegionRef;
use crate::state::AppState;

/// Settings documents of this module.
const RULES_SETTING: &str = "warning_rules";
const INDEX_SETTING: &str = "composite_index";
const ALERT_SETTING: &str = "alert_settings";
/// The longest custom period, in days.
const MAX_DAYS: i64 = 732;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// The region (2-15 digits: province to grid); the caller's own by default.
    pub region: Option<String>,
    /// day, week (Monday-Sunday), month (default), quarter, year or custom
    /// (with `from` and `to`), in Asia/Shanghai.
    pub period: Option<String>,
    /// A day in the period, `YYYY-MM-DD`; today by default.
    pub date: Option<String>,
    /// First day of a custom period, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day of a custom period (included), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// A 4-digit category or 2-digit major; `none` for reports without one.
    pub category: Option<String>,
    /// Also break the figures down: `category`, `day` or `child` (the child
    /// regions of a province, city or county).
    pub breakdown: Option<String>,
}

/// The period a report covers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodView {
    /// day, week, month, quarter, year or custom.
    pub kind: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (included), `YYYY-MM-DD`.
    pub to: String,
}

/// One indicator's value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorValue {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    /// A count, a ratio 0-1, or the average rating 1-5; null when the
    /// denominator is zero.
    pub value: Option<f64>,
    /// For ratios: the value in percent rounded to two decimals (93.72).
    pub percent: Option<f64>,
}

/// Counters and indicators of one region (or one breakdown row).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Figures {
    /// The counters by id (see `GET /api/v1/indicators/definitions`).
    #[schema(value_type = Object)]
    pub counters: BTreeMap<&'static str, i64>,
    pub indicators: Vec<IndicatorValue>,
}

/// A row of a breakdown: a category, a day or a child region.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownRow {
    /// The category code (`""` for none), the day `YYYY-MM-DD`, or the region code.
    pub key: String,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The indicators of a region over a period (平安报表).
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorReport {
    pub region: RegionRef,
    pub period: PeriodView,
    pub category: Option<String>,
    /// `aggregates` (township and above) or `live` (village, grid).
    pub source: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// Matters open now and open-and-overdue now (not bound to the period).
    pub open: i64,
    pub open_overdue: i64,
    /// `category`, `day` or `child` when asked.
    pub breakdown: Option<String>,
    pub rows: Vec<BreakdownRow>,
}

/// A counter's or indicator's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Definition {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    /// The formula over the counters (indicators) or what is counted (counters).
    pub formula: String,
    /// higher, lower or neither (indicators only).
    pub better: Option<String>,
    pub is_rate: bool,
}

/// Every counter and indicator with its exact definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Definitions {
    pub counters: Vec<Definition>,
    pub indicators: Vec<Definition>,
}

fn better_str(b: Better) -> &'static str {
    match b {
        Better::Higher => "higher",
        Better::Lower => "lower",
        Better::Neither => "neither",
    }
}

/// The definitions of the counters and indicators. Event counters count
/// actions on the Shanghai day they happen; the deadline cohort (`due*`)
/// counts the matters whose current deadline falls in the period by their
/// current state. Rates: registration rate = registered / received; closure
/// rate = due_closed / (due − due_suspended); on-time closure rate =
/// due_on_time / (due − due_suspended); overdue rate = due_overdue / (due −
/// due_suspended); rework rate = due_reworked / due; township-or-below
/// resolution rate = resolved_low / closed; self-resolution rate =
/// self_resolved / received; satisfaction rate = satisfied (ratings ≥ 4) /
/// rated; average rating = rating_sum / rated.
#[utoipa::path(get, path = "/api/v1/indicators/definitions", tag = "indicators",
    responses((status = 200, body = Definitions)))]
pub async fn indicator_definitions(Caller(_caller): Caller) -> Json<Definitions> {
    Json(Definitions {
        counters: Counter::ALL
            .iter()
            .map(|c| Definition {
                id: c.as_str().into(),
                name_zh: c.name_zh().into(),
                name_en: c.as_str().replace('_', " "),
                formula: c.definition().into(),
                better: None,
                is_rate: false,
            })
            .collect(),
        indicators: Indicator::ALL
            .iter()
            .map(|i| Definition {
                id: i.as_str().into(),
                name_zh: i.name_zh().into(),
                name_en: i.name_en().into(),
                formula: i.formula().into(),
                better: Some(better_str(i.better()).into()),
                is_rate: i.is_rate(),
            })
            .collect(),
    })
}

pub(crate) fn figures(c: &Counters) -> Figures {
    Figures {
        counters: c.to_map(),
        indicators: Indicator::ALL
            .iter()
            .map(|&i| {
                let value = c.value(i);
                IndicatorValue {
                    id: i.as_str().into(),
                    name_zh: i.name_zh().into(),
                    name_en: i.name_en().into(),
                    value,
                    percent: value
                        .filter(|_| i.is_rate() && i != Indicator::AverageRating)
                        .map(indicators::percent),
                }
            })
            .collect(),
    }
}

fn parse_date(what: &str, text: &str) -> ApiResult<LocalDate> {
    text.parse()
        .map_err(|_| ApiError::InvalidQuery(format!("{what} must be a date YYYY-MM-DD")))
}

/// A period and its kind (`None` for a custom range).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub kind: Option<PeriodKind>,
    pub period: Period,
}

impl Span {
    pub(crate) fn parse(
        period: Option<&str>,
        date: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> ApiResult<Span> {
        let today = LocalDate::from_utc_ms(now_ms());
        match period.unwrap_or("month") {
            "custom" => {
                let (Some(from), Some(to)) = (from, to) else {
                    return Err(ApiError::InvalidQuery(
                        "a custom period needs from and to".into(),
                    ));
                };
                let p = Period::custom(parse_date("from", from)?, parse_date("to", to)?)
                    .ok_or_else(|| ApiError::InvalidQuery("to is before from".into()))?;
                if p.days() > MAX_DAYS {
                    return Err(ApiError::InvalidQuery(format!(
                        "a custom period has at most {MAX_DAYS} days"
                    )));
                }
                Ok(Span {
                    kind: None,
                    period: p,
                })
            }
            name => {
                let kind: PeriodKind = name.parse().map_err(|_| {
                    ApiError::InvalidQuery(
                        "period must be day, week, month, quarter, year or custom".into(),
                    )
                })?;
                let date = date.map(|d| parse_date("date", d)).transpose()?;
                Ok(Span {
                    kind: Some(kind),
                    period: Period::containing(kind, date.unwrap_or(today)),
                })
            }
        }
    }

    fn view(&self) -> PeriodView {
        let kind = match self.kind {
            None => "custom",
            Some(PeriodKind::Day) => "day",
            Some(PeriodKind::Week) => "week",
            Some(PeriodKind::Month) => "month",
            Some(PeriodKind::Quarter) => "quarter",
            Some(PeriodKind::Year) => "year",
        };
        PeriodView {
            kind: kind.into(),
            from: self.period.from.to_string(),
            to: self.period.to.add_days(-1).to_string(),
        }
    }

    fn previous(&self) -> Span {
        Span {
            kind: self.kind,
            period: self.period.previous(self.kind),
        }
    }

    fn year_before(&self) -> Span {
        Span {
            kind: self.kind,
            period: self.period.year_before(self.kind),
        }
    }
}

/// The category filter as the store takes it: `none` stands for `""`.
fn category_filter(text: Option<&str>) -> ApiResult<Option<String>> {
    match text {
        None => Ok(None),
        Some("none") => Ok(Some(String::new())),
        Some(c) if (c.len() == 2 || c.len() == 4) && c.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(c.to_string()))
        }
        Some(_) => Err(ApiError::InvalidQuery(
            "category must be 2 or 4 digits, or none".into(),
        )),
    }
}

/// Every cell of the matters under a village or grid, recomputed from their
/// event logs (small: a village holds hundreds of matters a year).
pub async fn live_cells(
    store: &dyn Store,
    scope: &Scope,
    prefix: &str,
) -> ApiResult<BTreeMap<CellKey, Counters>> {
    let filter = MatterFilter {
        under: Some(prefix.to_string()),
        ..MatterFilter::default()
    };
    let mut matters = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = store.matters(scope, &filter, &page).await?;
        let full = rows.len() == page.limit as usize;
        page.after = rows.last().map(|m| m.id.to_string());
        matters.extend(rows);
        if !full {
            break;
        }
    }
    cells_of(store, &matters).await
}

/// The cells of some matters, replayed from their logs.
pub async fn cells_of(
    store: &dyn Store,
    matters: &[pingan_storage::Matter],
) -> ApiResult<BTreeMap<CellKey, Counters>> {
    let ids: Vec<i64> = matters.iter().map(|m| m.id).collect();
    let mut logs: HashMap<String, Vec<pingan_storage::LogEntry>> = HashMap::new();
    for e in store.logs_of_matters(&ids).await? {
        logs.entry(e.subject.clone()).or_default().push(e);
    }
    let mut total = BTreeMap::new();
    for m in matters {
        let Some(entries) = logs.get(&format!("matter:{}", m.id)) else {
            continue;
        };
        let logged: Vec<LoggedAction<'_>> = entries
            .iter()
            .map(|e| LoggedAction {
                action: &e.action,
                to_state: e.to_state.as_deref(),
                body: &e.body,
                at: e.at,
            })
            .collect();
        for (k, c) in indicators::replay(&logged, &m.grid_code, m.category_code.as_deref()) {
            *total.entry(k).or_default() += &c;
        }
    }
    Ok(total)
}

/// Recomputes every indicator cell from the event log and replaces the
/// aggregates (`pingan stats rebuild`); answers the number of cells.
pub async fn rebuild(store: &dyn Store) -> ApiResult<usize> {
    let total = recompute(store).await?;
    store.replace_indicator_cells(&total).await?;
    Ok(total.len())
}

/// Compares the stored cells and the township months with a recomputation
/// from the event log (`pingan stats check`): the number of cells, and the
/// keys that differ (a township month as its first day and category `*`).
pub async fn check(store: &dyn Store) -> ApiResult<(usize, Vec<CellKey>)> {
    let expected = recompute(store).await?;
    let stored: BTreeMap<CellKey, Counters> = store
        .indicator_cells()
        .await?
        .into_iter()
        .filter(|(_, c)| !c.is_zero())
        .collect();
    let mut differ: Vec<CellKey> = expected
        .iter()
        .filter(|(k, c)| stored.get(*k) != Some(*c))
        .map(|(k, _)| k.clone())
        .collect();
    differ.extend(
        stored
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .cloned(),
    );
    let (townships, _) = pingan_storage::cells::rollups(&expected);
    let mut months = pingan_storage::cells::months(&townships);
    months.retain(|_, c| !c.is_zero());
    let stored: BTreeMap<(i64, String), Counters> = store
        .indicator_township_months()
        .await?
        .into_iter()
        .filter(|(_, c)| !c.is_zero())
        .collect();
    let month_key = |(day, township): &(i64, String)| CellKey {
        day: *day,
        township: township.clone(),
        category: "*".into(),
    };
    differ.extend(
        months
            .iter()
            .filter(|(k, c)| stored.get(*k) != Some(*c))
            .map(|(k, _)| month_key(k)),
    );
    differ.extend(
        stored
            .keys()
            .filter(|k| !months.contains_key(*k))
            .map(month_key),
    );
    Ok((expected.len(), differ))
}

/// Every cell as the event log makes it.
pub async fn recompute(store: &dyn Store) -> ApiResult<BTreeMap<CellKey, Counters>> {
    let everywhere = Scope::everywhere();
    let mut total: BTreeMap<CellKey, Counters> = BTreeMap::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = store
            .matters(&everywhere, &MatterFilter::default(), &page)
            .await?;
        let full = rows.len() == page.limit as usize;
        page.after = rows.last().map(|m| m.id.to_string());
        for (k, c) in cells_of(store, &rows).await? {
            indicators::accumulate(&mut total, vec![(k, c)]);
        }
        if !full {
            break;
        }
    }
    Ok(total)
}

/// Sums for one region over a span, grouped as asked: from the aggregates
/// down to townships, live below.
pub(crate) async fn sums(
    state: &AppState,
    scope: &Scope,
    prefix: &str,
    period: Period,
    category: Option<&str>,
    group: CellGroup,
) -> ApiResult<Vec<(String, Counters)>> {
    let (first_day, last_day) = period.day_range();
    if prefix.len() <= 9 {
        return Ok(state
            .store
            .indicator_sums(
                scope,
                &CellQuery {
                    under: prefix.to_string(),
                    first_day,
                    last_day,
                    category: category.map(str::to_string),
                    group,
                },
            )
            .await?);
    }
    let cells = live_cells(state.store.as_ref(), scope, prefix).await?;
    let mut out: BTreeMap<String, Counters> = BTreeMap::new();
    for (k, c) in cells {
        let in_days = (first_day..=last_day).contains(&k.day);
        let in_category = match category {
            None => true,
            Some("") => k.category.is_empty(),
            Some(p) => k.category.starts_with(p),
        };
        if in_days && in_category {
            let key = match group {
                CellGroup::Category => k.category.clone(),
                CellGroup::Day => k.day.to_string(),
                CellGroup::Total | CellGroup::Region(_) => String::new(),
            };
            *out.entry(key).or_default() += &c;
        }
    }
    Ok(out.into_iter().collect())
}

pub(crate) fn total(rows: &[(String, Counters)]) -> Counters {
    let mut t = Counters::default();
    for (_, c) in rows {
        t += c;
    }
    t
}

/// The gauge period: the single day holding the open counts.
pub(crate) fn gauge_period() -> Period {
    let d = LocalDate::from_days_since_epoch(GAUGE_DAY);
    Period {
        from: d,
        to: d.add_days(1),
    }
}

/// A region the caller may report on: within its scope (not merely an ancestor).
async fn report_region(
    state: &AppState,
    caller: &Account,
    code: Option<String>,
) -> ApiResult<(String, RegionRef)> {
    let code = match code {
        Some(c) => c,
        None => home_region(caller)?,
    };
    if code.len() == 15 {
        let grid = state
            .store
            .grid(&caller.scope, &code)
            .await?
            .ok_or(ApiError::NotFound("region"))?;
        return Ok((
            grid.grid.code.clone(),
            RegionRef {
                code: grid.grid.code,
                name: grid.grid.name,
                level: "grid".into(),
            },
        ));
    }
    let region = visible_region(state, caller, &code).await?;
    let prefix = prefix_of(&region);
    if !caller.scope.covers(&prefix) {
        return Err(ApiError::OutOfScope(region.code));
    }
    Ok((prefix, crate::overview::region_ref(&region)))
}

/// The level of the regions one below a prefix of this length.
pub(crate) fn child_level(prefix_len: usize) -> Option<Level> {
    match prefix_len {
        2 => Some(Level::City),
        4 => Some(Level::County),
        6 => Some(Level::Township),
        _ => None,
    }
}

/// The indicators of a region (province to grid) over a period, optionally
/// for one category and broken down by category, day or child region.
/// Counters and formulas: see `GET /api/v1/indicators/definitions`.
#[utoipa::path(get, path = "/api/v1/indicators", tag = "indicators", params(IndicatorQuery),
    responses((status = 200, body = IndicatorReport), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn indicator_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<IndicatorQuery>,
) -> ApiResult<Json<IndicatorReport>> {
    let span = Span::parse(
        q.period.as_deref(),
        q.date.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let category = category_filter(q.category.as_deref())?;
    let (prefix, region) = report_region(&state, &caller, q.region).await?;
    let scope = &caller.scope;
    let cat = category.as_deref();
    let group = match q.breakdown.as_deref() {
        None => CellGroup::Total,
        Some("category") => CellGroup::Category,
        Some("day") => CellGroup::Day,
        Some("child") => CellGroup::Region(match child_level(prefix.len()) {
            Some(l) => l.significant_digits(),
            None => {
                return Err(ApiError::InvalidQuery(
                    "a child breakdown needs a province, city or county".into(),
                ))
            }
        }),
        Some(_) => {
            return Err(ApiError::InvalidQuery(
                "breakdown must be category, day or child".into(),
            ))
        }
    };
    let rows = sums(&state, scope, &prefix, span.period, cat, group).await?;
    let all = total(&rows);
    let gauges = total(
        &sums(
            &state,
            scope,
            &prefix,
            gauge_period(),
            cat,
            CellGroup::Total,
        )
        .await?,
    );
    let names: HashMap<String, String> = match group {
        CellGroup::Category => {
            let catalogue = state.catalogue().1;
            rows.iter()
                .map(|(k, _)| {
                    let name = catalogue.find(k).map(|c| c.name_zh.clone());
                    (k.clone(), name.unwrap_or_else(|| "未分类".into()))
                })
                .collect()
        }
        CellGroup::Region(_) => {
            let level = child_level(prefix.len()).unwrap_or(Level::Township);
            state
                .store
                .regions_at_level(scope, &prefix, level)
                .await?
                .into_iter()
                .map(|r| (prefix_of(&r), r.name))
                .collect()
        }
        _ => HashMap::new(),
    };
    let mut out_rows: Vec<BreakdownRow> = rows
        .iter()
        .map(|(k, c)| {
            let key = match group {
                CellGroup::Day => {
                    LocalDate::from_days_since_epoch(k.parse().unwrap_or_default()).to_string()
                }
                _ => k.clone(),
            };
            BreakdownRow {
                name: names.get(k).cloned().unwrap_or_else(|| key.clone()),
                key,
                figures: figures(c),
            }
        })
        .collect();
    if let CellGroup::Region(_) = group {
        // Children without any figures still appear, with zeros.
        for (k, name) in &names {
            if !rows.iter().any(|(r, _)| r == k) {
                out_rows.push(BreakdownRow {
                    key: k.clone(),
                    name: name.clone(),
                    figures: figures(&Counters::default()),
                });
            }
        }
        out_rows.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(Json(IndicatorReport {
        region,
        period: span.view(),
        category,
        source: if prefix.len() <= 9 {
            "aggregates"
        } else {
            "live"
        }
        .into(),
        figures: figures(&all),
        open: gauges[Counter::Open],
        open_overdue: gauges[Counter::OpenOverdue],
        breakdown: q.breakdown,
        rows: out_rows,
    }))
}

// ---------------------------------------------------------------------------
// Rankings and warnings
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// The parent region (2, 4 or 6 digits); the caller's own by default.
    pub parent: Option<String>,
    /// Rank the regions of this level under the parent (city, county or
    /// township); by default its children, e.g. all 1,387 townships of the
    /// province with `parent=33&level=township`.
    pub level: Option<String>,
    /// As for `/indicators`.
    pub period: Option<String>,
    pub date: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Order by this indicator (its ids as in the definitions); by the
    /// composite index by default.
    pub indicator: Option<String>,
    /// Also give every indicator's value and rank per region (`true`).
    pub all: Option<bool>,
}

/// A ranked region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedRegion {
    pub code: String,
    pub name: String,
    /// Rank by the chosen indicator (or the composite index); 1 is best,
    /// ties share a rank; null without a value.
    pub rank: Option<u32>,
    /// The chosen indicator's value (or the composite score).
    pub value: Option<f64>,
    /// Composite score 0-100 and its rank.
    pub composite: Option<f64>,
    pub composite_rank: Option<u32>,
    /// Every indicator's value and rank by id, with `all=true`.
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<&'static str, Option<f64>>,
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ranks: BTreeMap<&'static str, Option<u32>>,
}

/// Sibling regions ranked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    pub parent: RegionRef,
    /// city, county or township.
    pub level: String,
    pub period: PeriodView,
    /// The indicator ordered by, or `composite`.
    pub indicator: String,
    /// The composite index's settings version (null: the shipped default).
    pub composite_index_version: Option<i64>,
    /// Best first; regions without a value last.
    pub regions: Vec<RankedRegion>,
}

/// A parent and the regions of one level under it, with their period sums.
struct Siblings {
    parent: RegionRef,
    level: Level,
    regions: Vec<Region>,
    /// Per region, in the same order.
    counters: Vec<Counters>,
}

fn parse_level(text: Option<&str>, parent_len: usize) -> ApiResult<Level> {
    let level = match text {
        None => child_level(parent_len),
        Some("city") => Some(Level::City),
        Some("county") => Some(Level::County),
        Some("township") => Some(Level::Township),
        Some(_) => None,
    };
    level
        .filter(|l| l.significant_digits() > parent_len)
        .ok_or_else(|| {
            ApiError::InvalidQuery(
                "rank cities, counties or townships under a province, city or county".into(),
            )
        })
}

async fn siblings(
    state: &AppState,
    caller: &Account,
    parent: Option<String>,
    level: Option<&str>,
    spans: &[Span],
) -> ApiResult<(Siblings, Vec<Vec<Counters>>)> {
    let (prefix, parent) = report_region(state, caller, parent).await?;
    let level = parse_level(level, prefix.len())?;
    let periods: Vec<Period> = spans.iter().map(|s| s.period).collect();
    let (regions, per_span) = sibling_sums(state, &caller.scope, &prefix, level, &periods).await?;
    let counters = per_span.first().cloned().unwrap_or_default();
    Ok((
        Siblings {
            parent,
            level,
            regions,
            counters,
        },
        per_span,
    ))
}

/// The regions of `level` under `prefix` and their sums per period, in the
/// same order.
pub(crate) async fn sibling_sums(
    state: &AppState,
    scope: &Scope,
    prefix: &str,
    level: Level,
    periods: &[Period],
) -> ApiResult<(Vec<Region>, Vec<Vec<Counters>>)> {
    let regions = state.store.regions_at_level(scope, prefix, level).await?;
    let digits = level.significant_digits();
    let mut per_span = Vec::with_capacity(periods.len());
    for period in periods {
        let rows = sums(
            state,
            scope,
            prefix,
            *period,
            None,
            CellGroup::Region(digits),
        )
        .await?;
        let map: HashMap<String, Counters> = rows.into_iter().collect();
        per_span.push(
            regions
                .iter()
                .map(|r| map.get(&prefix_of(r)).copied().unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    Ok((regions, per_span))
}

/// Each region assessed by the rules, from its sums over the period, the
/// previous one and the same one a year before (`per_span` in that order),
/// the median taken over the regions.
pub(crate) fn assess_regions(
    rules: &[WarningRule],
    per_span: &[Vec<Counters>],
) -> Vec<indicators::Assessment> {
    let medians: HashMap<Indicator, Option<f64>> = rules
        .iter()
        .map(|r| {
            let vals: Vec<f64> = per_span[0]
                .iter()
                .filter_map(|c| c.value(r.indicator))
                .collect();
            (r.indicator, indicators::median(&vals))
        })
        .collect();
    (0..per_span[0].len())
        .map(|r| {
            indicators::assess(rules, &|i| Comparison {
                value: per_span[0][r].value(i),
                previous: per_span[1][r].value(i),
                last_year: per_span[2][r].value(i),
                siblings_median: medians.get(&i).copied().flatten(),
            })
        })
        .collect()
}

pub(crate) async fn composite_index(state: &AppState) -> ApiResult<(Option<i64>, IndexNode)> {
    match state.store.latest_setting(INDEX_SETTING).await? {
        Some((v, body)) => Ok((
            Some(v),
            serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.to_string()))?,
        )),
        None => Ok((None, indicators::default_index())),
    }
}

pub(crate) async fn warning_rules(state: &AppState) -> ApiResult<(Option<i64>, Vec<WarningRule>)> {
    match state.store.latest_setting(RULES_SETTING).await? {
        Some((v, body)) => Ok((
            Some(v),
            serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.to_string()))?,
        )),
        None => Ok((None, indicators::default_rules())),
    }
}

/// Sibling regions ranked per indicator and by the composite index (综合指数).
/// The composite normalises each leaf indicator across the ranked regions by
/// min-max to 0-100 (100 = best by the indicator's direction; all 100 when
/// equal) and weighs them up the configured tree.
#[utoipa::path(get, path = "/api/v1/rankings", tag = "indicators", params(RankingQuery),
    responses((status = 200, body = Ranking), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rankings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> ApiResult<Json<Ranking>> {
    let span = Span::parse(
        q.period.as_deref(),
        q.date.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let chosen: Option<Indicator> = q
        .indicator
        .as_deref()
        .filter(|i| *i != "composite")
        .map(|i| {
            i.parse()
                .map_err(|_| ApiError::InvalidQuery(format!("unknown indicator {i:?}")))
        })
        .transpose()?;
    let (sib, _) = siblings(&state, &caller, q.parent, q.level.as_deref(), &[span]).await?;
    let (index_version, index) = composite_index(&state).await?;
    let n = sib.regions.len();
    let scores = indicators::composite(&index, &|r, i| sib.counters[r].value(i), n);
    let composite_ranks = indicators::rank(&scores, Better::Higher);
    let all = q.all.unwrap_or(false);
    let mut ranks_by: BTreeMap<Indicator, Vec<Option<u32>>> = BTreeMap::new();
    for &i in Indicator::ALL.iter().filter(|&&i| all || Some(i) == chosen) {
        let vals: Vec<Option<f64>> = sib.counters.iter().map(|c| c.value(i)).collect();
        ranks_by.insert(i, indicators::rank(&vals, i.better()));
    }
    let mut regions: Vec<RankedRegion> = sib
        .regions
        .iter()
        .enumerate()
        .map(|(r, region)| {
            let c = &sib.counters[r];
            let (rank, value) = match chosen {
                Some(i) => (ranks_by[&i][r], c.value(i)),
                None => (composite_ranks[r], scores[r]),
            };
            RankedRegion {
                code: region.code.clone(),
                name: region.name.clone(),
                rank,
                value,
                composite: scores[r],
                composite_rank: composite_ranks[r],
                values: ranks_by
                    .keys()
                    .filter(|_| all)
                    .map(|&i| (i.as_str(), c.value(i)))
                    .collect(),
                ranks: ranks_by
                    .iter()
                    .filter(|_| all)
                    .map(|(&i, ranks)| (i.as_str(), ranks[r]))
                    .collect(),
            }
        })
        .collect();
    regions.sort_by(|a, b| {
        a.rank
            .unwrap_or(u32::MAX)
            .cmp(&b.rank.unwrap_or(u32::MAX))
            .then(a.code.cmp(&b.code))
    });
    Ok(Json(Ranking {
        parent: sib.parent,
        level: sib.level.as_str().into(),
        period: span.view(),
        indicator: chosen.map_or("composite", Indicator::as_str).into(),
        composite_index_version: index_version,
        regions,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarningQuery {
    /// The parent region (2, 4 or 6 digits); the caller's own by default.
    pub parent: Option<String>,
    /// The regions assessed: city, county or township; the parent's children by default.
    pub level: Option<String>,
    pub period: Option<String>,
    pub date: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One rule's verdict for a region.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonView {
    pub indicator: String,
    /// absolute, previous_period, same_period_last_year or siblings_median.
    pub basis: String,
    /// yellow or red.
    pub colour: String,
    pub value: f64,
    pub base: Option<f64>,
    pub worse_by: Option<f64>,
    pub text_zh: String,
    pub text_en: String,
}

/// A region's colours.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionWarning {
    pub code: String,
    pub name: String,
    /// green, yellow or red: the worst of its indicators.
    pub overall: String,
    /// The colour per indicator with a rule, by indicator id.
    #[schema(value_type = Object)]
    pub indicators: BTreeMap<&'static str, Colour>,
    pub reasons: Vec<ReasonView>,
}

/// Three-colour warnings (三色预警) of sibling regions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Warnings {
    pub parent: RegionRef,
    pub level: String,
    pub period: PeriodView,
    pub previous_period: PeriodView,
    pub same_period_last_year: PeriodView,
    /// The rules' settings version (null: the shipped defaults).
    pub rules_version: Option<i64>,
    pub regions: Vec<RegionWarning>,
}

pub(crate) fn colour_str(c: Colour) -> &'static str {
    match c {
        Colour::Green => "green",
        Colour::Yellow => "yellow",
        Colour::Red => "red",
    }
}

pub(crate) fn basis_str(b: Basis) -> &'static str {
    match b {
        Basis::Absolute => "absolute",
        Basis::PreviousPeriod => "previous_period",
        Basis::SamePeriodLastYear => "same_period_last_year",
        Basis::SiblingsMedian => "siblings_median",
    }
}

/// Each region under the parent assessed by the warning rules: green,
/// yellow or red per indicator and overall, with the reasons. Relative rules
/// compare with the previous period (环比), the same period a year before
/// (同比) and the median of the assessed regions.
#[utoipa::path(get, path = "/api/v1/warnings", tag = "indicators", params(WarningQuery),
    responses((status = 200, body = Warnings), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn warnings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<WarningQuery>,
) -> ApiResult<Json<Warnings>> {
    let span = Span::parse(
        q.period.as_deref(),
        q.date.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let spans = [span, span.previous(), span.year_before()];
    let (sib, per_span) = siblings(&state, &caller, q.parent, q.level.as_deref(), &spans).await?;
    let (rules_version, rules) = warning_rules(&state).await?;
    let assessed = assess_regions(&rules, &per_span);
    let regions = sib
        .regions
        .iter()
        .zip(assessed)
        .map(|(region, a)| RegionWarning {
            code: region.code.clone(),
            name: region.name.clone(),
            overall: colour_str(a.overall).into(),
            indicators: a.indicators.iter().map(|(i, c)| (i.as_str(), *c)).collect(),
            reasons: a
                .reasons
                .into_iter()
                .map(|x| ReasonView {
                    indicator: x.indicator.as_str().into(),
                    basis: basis_str(x.basis).into(),
                    colour: colour_str(x.colour).into(),
                    value: x.value,
                    base: x.base,
                    worse_by: x.worse_by,
                    text_zh: x.text_zh,
                    text_en: x.text_en,
                })
                .collect(),
        })
        .collect();
    Ok(Json(Warnings {
        parent: sib.parent,
        level: sib.level.as_str().into(),
        period: span.view(),
        previous_period: spans[1].view(),
        same_period_last_year: spans[2].view(),
        rules_version,
        regions,
    }))
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// The warning rules: each names an indicator, a basis (`absolute`,
/// `previous_period`, `same_period_last_year`, `siblings_median`) and the
/// `yellow` and `red` thresholds. Absolute thresholds are values of the
/// indicator on its worse side; relative ones how far the value moved to the
/// worse side of the base (for rates in their own units, 0.05 = 5 points;
/// for counts as a fraction of the base, 0.2 = 20 % more).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesDoc {
    /// The settings version (null: the shipped defaults, never saved). A
    /// PUT names the version it edited.
    pub version: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<WarningRule>,
}

/// The composite index's tree: `{name, weight, indicator?, children?}`;
/// leaves name an indicator, inner nodes weigh their children.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IndexDoc {
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub index: IndexNode,
}

fn admin_only(caller: &Account) -> ApiResult<()> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[utoipa::path(get, path = "/api/v1/warning-rules", tag = "indicators",
    responses((status = 200, body = RulesDoc)))]
pub async fn get_warning_rules(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<RulesDoc>> {
    let (version, rules) = warning_rules(&state).await?;
    Ok(Json(RulesDoc { version, rules }))
}

/// Replaces the warning rules (admins); stored as a new version.
#[utoipa::path(put, path = "/api/v1/warning-rules", tag = "indicators", request_body = RulesDoc,
    responses((status = 200, body = RulesDoc), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Edited from an older version", body = ErrorBody)))]
pub async fn put_warning_rules(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(doc): ApiJson<RulesDoc>,
) -> ApiResult<Json<RulesDoc>> {
    admin_only(&caller)?;
    indicators::validate_rules(&doc.rules).map_err(|e| {
        ApiError::invalid(
            "invalid_rules",
            format!("预警规则无效：{e}"),
            format!("invalid warning rules: {e}"),
        )
    })?;
    let body = serde_json::to_string(&doc.rules).map_err(|e| ApiError::Internal(e.to_string()))?;
    let version = state
        .store
        .save_setting(RULES_SETTING, doc.version, &body, Some(caller.id), now_ms())
        .await?;
    Ok(Json(RulesDoc {
        version: Some(version),
        rules: doc.rules,
    }))
}

#[utoipa::path(get, path = "/api/v1/composite-index", tag = "indicators",
    responses((status = 200, body = IndexDoc)))]
pub async fn get_composite_index(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<IndexDoc>> {
    let (version, index) = composite_index(&state).await?;
    Ok(Json(IndexDoc { version, index }))
}

/// Replaces the composite index (admins); stored as a new version.
#[utoipa::path(put, path = "/api/v1/composite-index", tag = "indicators", request_body = IndexDoc,
    responses((status = 200, body = IndexDoc), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Edited from an older version", body = ErrorBody)))]
pub async fn put_composite_index(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(doc): ApiJson<IndexDoc>,
) -> ApiResult<Json<IndexDoc>> {
    admin_only(&caller)?;
    indicators::validate_index(&doc.index).map_err(|e| {
        ApiError::invalid(
            "invalid_index",
            format!("综合指数配置无效：{e}"),
            format!("invalid composite index: {e}"),
        )
    })?;
    let body = serde_json::to_string(&doc.index).map_err(|e| ApiError::Internal(e.to_string()))?;
    let version = state
        .store
        .save_setting(INDEX_SETTING, doc.version, &body, Some(caller.id), now_ms())
        .await?;
    Ok(Json(IndexDoc {
        version: Some(version),
        index: doc.index,
    }))
}

// ---------------------------------------------------------------------------
// Immediate alerts
// ---------------------------------------------------------------------------

/// The alert settings and their version (`None`: the shipped defaults).
pub async fn alert_settings(state: &AppState) -> ApiResult<(Option<i64>, AlertSettings)> {
    match state.store.latest_setting(ALERT_SETTING).await? {
        Some((v, body)) => Ok((
            Some(v),
            serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.to_string()))?,
        )),
        None => Ok((None, AlertSettings::default())),
    }
}

/// Immediate-alert settings: `red_flag_categories` (4-digit codes whose
/// every report raises an alert), and a cluster: `cluster_size` reports of
/// one category in one village within `cluster_hours` (defaults 3 and 24).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertSettingsDoc {
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub settings: AlertSettings,
}

#[utoipa::path(get, path = "/api/v1/alert-settings", tag = "indicators",
    responses((status = 200, body = AlertSettingsDoc)))]
pub async fn get_alert_settings(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<AlertSettingsDoc>> {
    let (version, settings) = alert_settings(&state).await?;
    Ok(Json(AlertSettingsDoc { version, settings }))
}

/// Replaces the immediate-alert settings (admins); the notifier uses them
/// from its next sweep.
#[utoipa::path(put, path = "/api/v1/alert-settings", tag = "indicators",
    request_body = AlertSettingsDoc,
    responses((status = 200, body = AlertSettingsDoc), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Edited from an older version", body = ErrorBody)))]
pub async fn put_alert_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(doc): ApiJson<AlertSettingsDoc>,
) -> ApiResult<Json<AlertSettingsDoc>> {
    admin_only(&caller)?;
    doc.settings.validate().map_err(|e| {
        ApiError::invalid(
            "invalid_alert_settings",
            format!("即时预警设置无效：{e}"),
            format!("invalid alert settings: {e}"),
        )
    })?;
    let body =
        serde_json::to_string(&doc.settings).map_err(|e| ApiError::Internal(e.to_string()))?;
    let version = state
        .store
        .save_setting(ALERT_SETTING, doc.version, &body, Some(caller.id), now_ms())
        .await?;
    Ok(Json(AlertSettingsDoc {
        version: Some(version),
        settings: doc.settings,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Under this region (2-9 digits); the caller's scope by default.
    pub under: Option<String>,
    /// Alerts before this id (the previous page's `next`).
    pub after: Option<String>,
    /// At most this many (1-500, default 100).
    pub limit: Option<u32>,
}

/// An immediate alert (即时预警), as sent to a township centre (its county
/// centre got the same one).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    /// Milliseconds since the Unix epoch (UTC).
    pub at: i64,
    /// The township whose centre was alerted, 9 digits.
    pub township: String,
    pub matter_id: Option<i64>,
    pub title_zh: String,
    pub title_en: String,
}

/// Immediate alerts under a region within the caller's scope, newest first:
/// reports of a red-flag category, and clusters of similar reports in a village.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "indicators", params(AlertQuery),
    responses((status = 200, body = [AlertView]), (status = 400, body = ErrorBody)))]
pub async fn alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<Vec<AlertView>>> {
    let scope = caller.scope.prefix();
    let under = q.under.unwrap_or_else(|| scope.to_string());
    if !under.bytes().all(|b| b.is_ascii_digit()) || under.len() > 9 {
        return Err(ApiError::InvalidQuery("under must be 0-9 digits".into()));
    }
    if !caller.scope.covers(&under) {
        return Err(ApiError::OutOfScope(under));
    }
    let page = Page {
        after: q.after,
        limit: q.limit.unwrap_or(100).clamp(1, 500),
    };
    let rows = state.store.alerts(&under, &page).await?;
    Ok(Json(
        rows.into_iter()
            .map(|n| AlertView {
                id: n.id,
                at: n.at,
                township: n.audience.trim_start_matches("centre:").to_string(),
                matter_id: n
                    .subject
                    .strip_prefix("matter:")
                    .and_then(|i| i.parse().ok()),
                title_zh: n.title_zh,
                title_en: n.title_en,
            })
            .collect(),
    ))
}
