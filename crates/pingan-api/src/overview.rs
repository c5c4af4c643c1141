//! Views over many matters at once: the drill-down map (county → township →
//! village → grid) and the leader's first dashboard.
use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use pingan_domain::calendar::LocalDate;
use pingan_domain::indicators::{Counter, Period, GAUGE_DAY};
use pingan_domain::workflow;
use pingan_domain::{Level, RegionCode, Scope};
use pingan_storage::{
    now_ms, Account, CellGroup, DeadlineCohort, MatterFilter, MatterTally, Page as StorePage,
    Region, TallyBy,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::{multipolygon_json_rounded, RegionRef};
use crate::state::AppState;
use crate::views::RegionView;

const MS_PER_DAY: i64 = 86_400_000;

pub(crate) fn region_ref(r: &Region) -> RegionRef {
    RegionRef {
        code: r.code.clone(),
        name: r.name.clone(),
        level: r.level.as_str().to_string(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MapQuery {
    /// Count the matters filed in the last this many days (1-366, default 30).
    pub days: Option<u32>,
}

/// A region's map: its outline, and one feature per child (a region, or a
/// grid below a village) with the matters counted there.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapView {
    pub region: RegionView,
    /// The regions above it that the caller may open, top first.
    pub path: Vec<RegionRef>,
    /// The region's own boundary (GeoJSON geometry) where one is stored.
    #[schema(value_type = Option<Object>)]
    pub outline: Option<serde_json::Value>,
    /// township, village or grid.
    pub child_level: String,
    pub days: u32,
    /// A GeoJSON FeatureCollection; each feature's properties: `code`, `name`,
    /// `open` (not closed, rejected or merged), `overdue` (open and overdue),
    /// `filed` (filed in the last `days` days). A child without a stored
    /// boundary is drawn as the grids under it.
    #[schema(value_type = Object)]
    pub features: serde_json::Value,
}

/// The region named by a code the caller may see: 2-12 digits.
pub(crate) async fn visible_region(
    state: &AppState,
    caller: &Account,
    code: &str,
) -> ApiResult<Region> {
    let parsed = if code.len() == 12 {
        RegionCode::infer(code)
    } else {
        RegionCode::from_short(code)
    }
    .map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
    state
        .store
        .region(&caller.scope, parsed.as_str())
        .await?
        .ok_or(ApiError::NotFound("region"))
}

/// The region an overview starts from when none is named: the caller's own.
pub(crate) fn home_region(caller: &Account) -> ApiResult<String> {
    let prefix = caller.scope.prefix();
    if prefix.is_empty() {
        return Err(ApiError::invalid(
            "region_required",
            "请指定地区",
            "name a region: the account's scope is everywhere",
        ));
    }
    Ok(prefix[..prefix.len().min(12)].to_string())
}

pub(crate) fn prefix_of(region: &Region) -> String {
    region.code[..region.level.significant_digits()].to_string()
}

/// Open and overdue counts per group key.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema)]
pub struct OpenCounts {
    pub open: i64,
    pub overdue: i64,
}

fn open_counts(tallies: &[MatterTally]) -> HashMap<&str, OpenCounts> {
    let mut out: HashMap<&str, OpenCounts> = HashMap::new();
    for t in tallies {
        let open = t
            .state
            .parse::<workflow::State>()
            .is_ok_and(workflow::State::is_open);
        if open {
            let c = out.entry(t.key.as_str()).or_default();
            c.open += t.count;
            if t.overdue {
                c.overdue += t.count;
            }
        }
    }
    out
}

/// The children of a region within the caller's scope (all of them: a
/// county has dozens of townships, a township some hundred villages).
async fn children(state: &AppState, caller: &Account, region: &Region) -> ApiResult<Vec<Region>> {
    let mut out = Vec::new();
    let mut page = StorePage::first(StorePage::MAX_LIMIT);
    loop {
        let rows = state
            .store
            .region_children(&caller.scope, &region.code, &page)
            .await?;
        let full = rows.len() == page.limit as usize;
        page.after = rows.last().map(|r| r.code.clone());
        out.extend(rows);
        if !full {
            return Ok(out);
        }
    }
}

/// The drill-down map of a region.
#[utoipa::path(get, path = "/api/v1/map/{code}", tag = "overview",
    params(("code" = String, Path, description = "Region code, 2-12 digits"), MapQuery),
    responses((status = 200, body = MapView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn map(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<Json<MapView>> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::InvalidQuery("days must be 1-366".into()));
    }
    let region = visible_region(&state, &caller, &code).await?;
    let prefix = prefix_of(&region);
    let index = state.index();

    // The children: regions, or the grids of a village.
    struct Child {
        code: String,
        prefix: String,
        name: String,
    }
    let (child_level, kids) = if region.level == Level::Village {
        let mut grids = Vec::new();
        let mut page = StorePage::first(StorePage::MAX_LIMIT);
        loop {
            let rows = state.store.grids(&caller.scope, &prefix, &page).await?;
            let full = rows.len() == page.limit as usize;
            page.after = rows.last().map(|g| g.code.clone());
            grids.extend(rows.into_iter().map(|g| Child {
                prefix: g.code.clone(),
                code: g.code,
                name: g.name,
            }));
            if !full {
                break;
            }
        }
        ("grid".to_string(), grids)
    } else {
        let kids = children(&state, &caller, &region).await?;
        let level = kids
            .first()
            .map(|k| k.level.as_str().to_string())
            .unwrap_or_default();
        let kids = kids
            .into_iter()
            .map(|r| Child {
                prefix: prefix_of(&r),
                code: r.code,
                name: r.name,
            })
            .collect();
        (level, kids)
    };
    let key_len = kids.first().map_or(prefix.len(), |k| k.prefix.len());

    let filter = MatterFilter {
        under: Some(prefix.clone()),
        ..MatterFilter::default()
    };
    let tallies = state
        .store
        .tally_matters(&caller.scope, &filter, TallyBy::GridPrefix(key_len))
        .await?;
    let open = open_counts(&tallies);
    let recent = MatterFilter {
        created_from: Some(now_ms() - i64::from(days) * MS_PER_DAY),
        ..filter.clone()
    };
    let recent = state
        .store
        .tally_matters(&caller.scope, &recent, TallyBy::GridPrefix(key_len))
        .await?;
    let filed = totals(&recent);

    let mut codes: Vec<String> = kids.iter().map(|k| k.code.clone()).collect();
    codes.push(region.code.clone());
    let shapes: HashMap<String, Vec<u8>> = state
        .store
        .region_shapes(&codes)
        .await?
        .into_iter()
        .collect();
    let shape = |code: &str| -> ApiResult<Option<serde_json::Value>> {
        shapes
            .get(code)
            .map(|bytes| {
                pingan_geo::geometry::decode(bytes)
                    .map(|mp| multipolygon_json_rounded(&mp))
                    .map_err(|e| ApiError::Internal(e.to_string()))
            })
            .transpose()
    };
    let mut features = Vec::with_capacity(kids.len());
    for kid in &kids {
        let geometry = match shape(&kid.code)? {
            Some(g) => g,
            None => {
                let mut all = geo::MultiPolygon(Vec::new());
                for (_, mp) in index.under(&kid.prefix) {
                    all.0.extend(mp.0.iter().cloned());
                }
                multipolygon_json_rounded(&all)
            }
        };
        let c = open.get(kid.prefix.as_str()).copied().unwrap_or_default();
        features.push(serde_json::json!({
            "type": "Feature",
            "properties": {
                "code": kid.code,
                "name": kid.name,
                "open": c.open,
                "overdue": c.overdue,
                "filed": filed.get(&kid.prefix).copied().unwrap_or(0),
            },
            "geometry": geometry,
        }));
    }

    let path = ancestors(&state, &caller, &region).await?;
    Ok(Json(MapView {
        outline: shape(&region.code)?,
        region: region.into(),
        path,
        child_level,
        days,
        features: serde_json::json!({ "type": "FeatureCollection", "features": features }),
    }))
}

/// The regions above `region` the caller's scope reaches, top first.
async fn ancestors(
    state: &AppState,
    caller: &Account,
    region: &Region,
) -> ApiResult<Vec<RegionRef>> {
    let mut codes = Vec::new();
    let mut at = RegionCode::new(&region.code, region.level).ok();
    while let Some(code) = at.as_ref().and_then(RegionCode::parent) {
        if caller.scope.covers(code.as_str()) {
            codes.push(code.as_str().to_string());
        }
        at = Some(code);
    }
    let mut found = state.store.region_names(&codes).await?;
    found.sort_by_key(|r| r.level.significant_digits());
    Ok(found.iter().map(region_ref).collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// The region (2-12 digits); the caller's own by default.
    pub region: Option<String>,
}

/// Matters filed today in one category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryCount {
    /// 4 digits; empty for reports not yet categorised.
    pub category_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub count: i64,
}

/// Open and overdue matters under one child region.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildCounts {
    pub code: String,
    pub name: String,
    pub open: i64,
    pub overdue: i64,
}

/// This month's closure figures (DOMAIN.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthFigures {
    /// The first day of the month (Asia/Shanghai), `YYYY-MM-DD`.
    pub month: String,
    /// Filed this month.
    pub received: i64,
    /// 应结案: matters whose deadline falls on a day of the month up to today
    /// (from the indicator cells; see `/api/v1/indicators`).
    pub due: i64,
    /// Of those, suspended (taken out of the denominator).
    pub suspended: i64,
    /// Of those, closed.
    pub closed: i64,
    /// Of those, closed by their deadline.
    pub closed_on_time: i64,
    /// 结案率 = closed / (due − suspended); null when nothing was due.
    pub closure_rate: Option<f64>,
    /// 按期结案率 = closed on time / (due − suspended); null when nothing was due.
    pub on_time_rate: Option<f64>,
}

/// The leader's first dashboard (领导驾驶舱).
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub region: RegionView,
    /// Filed today (Asia/Shanghai) per category, most first.
    pub today: Vec<CategoryCount>,
    pub today_total: i64,
    /// township (or the child level of the region).
    pub child_level: String,
    /// Open and overdue per child region, most overdue first.
    pub children: Vec<ChildCounts>,
    pub open: OpenCounts,
    pub month: MonthFigures,
}

/// Today's intake by category, open and overdue by township, and this
/// month's closure and on-time rates, for a region.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "overview", params(DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn dashboard(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    let code = match q.region {
        Some(c) => c,
        None => home_region(&caller)?,
    };
    let region = visible_region(&state, &caller, &code).await?;
    let prefix = prefix_of(&region);
    let now = now_ms();
    let today = LocalDate::from_utc_ms(now);
    let day_start = today.start_utc_ms();
    let month_day = LocalDate::new(today.year(), today.month(), 1)
        .ok_or_else(|| ApiError::Internal("no first of the month".into()))?;
    let month_start = month_day.start_utc_ms();
    let under = MatterFilter {
        under: Some(prefix.clone()),
        ..MatterFilter::default()
    };
    let scope: &Scope = &caller.scope;

    // Within the caller's scope the figures come from the indicator cells
    // (no scan of the matters); a region above the scope is tallied live.
    let cells = scope.covers(&prefix);
    let today_period = Period {
        from: today,
        to: today.add_days(1),
    };
    let by_category: BTreeMap<String, i64> = if cells {
        crate::indicators::sums(
            &state,
            scope,
            &prefix,
            today_period,
            None,
            CellGroup::Category,
        )
        .await?
        .into_iter()
        .filter(|(_, c)| c[Counter::Received] > 0)
        .map(|(k, c)| (k, c[Counter::Received]))
        .collect()
    } else {
        let filed_today = MatterFilter {
            created_from: Some(day_start),
            ..under.clone()
        };
        totals(
            &state
                .store
                .tally_matters(scope, &filed_today, TallyBy::Category)
                .await?,
        )
    };
    let catalogue = state.catalogue().1;
    let mut today_counts: Vec<CategoryCount> = by_category
        .into_iter()
        .map(|(code, count)| {
            let known = catalogue.find(&code);
            CategoryCount {
                name_zh: known.map(|c| c.name_zh.clone()).unwrap_or_default(),
                name_en: known.map(|c| c.name_en.clone()).unwrap_or_default(),
                category_code: code,
                count,
            }
        })
        .collect();
    today_counts.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.category_code.cmp(&b.category_code))
    });

    let kids = if region.level == Level::Village {
        Vec::new()
    } else {
        children(&state, &caller, &region).await?
    };
    let child_level = kids
        .first()
        .map(|k| k.level.as_str().to_string())
        .unwrap_or_default();
    let key_len = kids
        .first()
        .map_or(prefix.len(), |k| k.level.significant_digits());
    let gauges;
    let tallies;
    let open: HashMap<&str, OpenCounts> = if cells && key_len <= 9 {
        let day = LocalDate::from_days_since_epoch(GAUGE_DAY);
        let gauge = Period {
            from: day,
            to: day.add_days(1),
        };
        gauges = crate::indicators::sums(
            &state,
            scope,
            &prefix,
            gauge,
            None,
            CellGroup::Region(key_len),
        )
        .await?;
        gauges
            .iter()
            .map(|(k, c)| {
                (
                    k.as_str(),
                    OpenCounts {
                        open: c[Counter::Open],
                        overdue: c[Counter::OpenOverdue],
                    },
                )
            })
            .collect()
    } else {
        tallies = state
            .store
            .tally_matters(scope, &under, TallyBy::GridPrefix(key_len))
            .await?;
        open_counts(&tallies)
    };
    let mut child_counts: Vec<ChildCounts> = kids
        .iter()
        .map(|k| {
            let c = open.get(prefix_of(k).as_str()).copied().unwrap_or_default();
            ChildCounts {
                code: k.code.clone(),
                name: k.name.clone(),
                open: c.open,
                overdue: c.overdue,
            }
        })
        .collect();
    child_counts.sort_by(|a, b| {
        (b.overdue, b.open)
            .cmp(&(a.overdue, a.open))
            .then(a.code.cmp(&b.code))
    });
    let all = open
        .values()
        .fold(OpenCounts::default(), |acc, c| OpenCounts {
            open: acc.open + c.open,
            overdue: acc.overdue + c.overdue,
        });

    let (received, cohort) = if cells {
        // The month so far: deadlines on a day of the month up to today.
        let so_far = Period {
            from: month_day,
            to: today.add_days(1),
        };
        let c = crate::indicators::sums(&state, scope, &prefix, so_far, None, CellGroup::Total)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .next()
            .unwrap_or_default();
        (
            c[Counter::Received],
            DeadlineCohort {
                due: c[Counter::Due],
                suspended: c[Counter::DueSuspended],
                closed: c[Counter::DueClosed],
                closed_on_time: c[Counter::DueOnTime],
            },
        )
    } else {
        let received = state
            .store
            .count_matters(
                scope,
                &MatterFilter {
                    created_from: Some(month_start),
                    ..under.clone()
                },
            )
            .await?;
        let cohort = state
            .store
            .deadline_cohort(scope, &under, month_start, now)
            .await?;
        (received, cohort)
    };
    let denominator = cohort.due - cohort.suspended;
    let rate = |n: i64| (denominator > 0).then(|| n as f64 / denominator as f64);
    Ok(Json(Dashboard {
        region: region.into(),
        today_total: today_counts.iter().map(|c| c.count).sum(),
        today: today_counts,
        child_level,
        children: child_counts,
        open: all,
        month: MonthFigures {
            month: month_day.to_string(),
            received,
            due: cohort.due,
            suspended: cohort.suspended,
            closed: cohort.closed,
            closed_on_time: cohort.closed_on_time,
            closure_rate: rate(cohort.closed),
            on_time_rate: rate(cohort.closed_on_time),
        },
    }))
}

fn totals(tallies: &[MatterTally]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for t in tallies {
        *out.entry(t.key.clone()).or_default() += t.count;
    }
    out
}
