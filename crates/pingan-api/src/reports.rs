//! The monthly safety report (平安报表月报): for a county or city and a
//! month, a PDF (key indicators against the month before and the same month
//! a year before, the daily intake, a map of the sub-regions coloured by
//! warning level, their table and ranking, the top categories and the
//! overdue list) and an XLSX with the tables. The schedule makes one for
//! every county and city (by default on the 15th at 08:00 Asia/Shanghai,
//! for the month before); leaders list and download them, and may make one
//! on request.
//!
//! Every figure comes from the indicator cells and the functions behind
//! `/indicators`, `/warnings` and `/rankings`, so the report agrees with
//! what the desk shows.
use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pingan_domain::calendar::{LocalDate, LocalDateTime};
use pingan_domain::indicators::{self, Assessment, Better, Colour, Counter, Counters, Indicator};
use pingan_domain::report::Month;
use pingan_domain::workflow::State as MatterState;
use pingan_domain::{Level, Role, Scope};
use pingan_storage::{
    now_ms, Account, CellGroup, Matter, MatterFilter, MonthlyReport, NewMonthlyReport, Page,
    Region, ReportFile,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::indicators::{
    assess_regions, child_level, colour_str, composite_index, gauge_period, sibling_sums, sums,
    total, warning_rules,
};
use crate::overview::prefix_of;
use crate::pdf::{self, Flow, A4_HEIGHT, A4_WIDTH};
use crate::state::AppState;
use crate::xlsx::{self, Cell, Sheet};

/// Overdue matters listed in the PDF; the XLSX lists up to [`OVERDUE_XLSX`].
const OVERDUE_PDF: usize = 40;
const OVERDUE_XLSX: u32 = 1000;
/// Categories in the PDF's chart and table.
const TOP_CATEGORIES: usize = 10;

// ------------------------------------------------------------------ data

/// Closed rings of (longitude, latitude), WGS-84.
type Rings = Vec<Vec<(f64, f64)>>;

/// A sub-region's line in the report.
#[derive(Debug, Clone)]
struct Child {
    code: String,
    prefix: String,
    name: String,
    counters: Counters,
    assessment: Assessment,
    composite: Option<f64>,
    rank: Option<u32>,
}

/// Everything a report shows, gathered once for both files.
#[derive(Debug, Clone)]
pub struct ReportData {
    region: Region,
    month: Month,
    made_at: i64,
    /// The month, the one before and the same month a year before.
    this: Counters,
    previous: Counters,
    last_year: Counters,
    open: i64,
    open_overdue: i64,
    /// The region among its siblings: colour, composite rank of how many,
    /// and the parent's name.
    overall: Assessment,
    rank: Option<(u32, usize, String)>,
    days: Vec<(LocalDate, Counters)>,
    /// Code, name and figures, most received first.
    categories: Vec<(String, String, Counters)>,
    children: Vec<Child>,
    child_level: Level,
    overdue: Vec<Matter>,
    overdue_total: i64,
    /// Rings per child (WGS-84), and the region's own outline.
    shapes: Vec<(usize, Rings)>,
    outline: Rings,
}

impl ReportData {
    pub fn overall(&self) -> Colour {
        self.overall.overall
    }
}

fn rings_of(mp: &geo::MultiPolygon<f64>) -> Rings {
    let mut out = Vec::new();
    for p in &mp.0 {
        out.push(p.exterior().0.iter().map(|c| (c.x, c.y)).collect());
        for hole in p.interiors() {
            out.push(hole.0.iter().map(|c| (c.x, c.y)).collect());
        }
    }
    out
}

/// A county or city the report can cover.
pub async fn report_region(state: &AppState, code: &str) -> ApiResult<Region> {
    let region = state
        .store
        .region(&Scope::everywhere(), code)
        .await?
        .ok_or(ApiError::NotFound("region"))?;
    if !matches!(region.level, Level::City | Level::County) {
        return Err(ApiError::invalid(
            "report_level",
            "月报只为县（市、区）和市编制",
            "monthly reports are made for counties and cities only",
        ));
    }
    Ok(region)
}

/// Gathers a report's figures as of `now`.
pub async fn gather(
    state: &AppState,
    region: &Region,
    month: Month,
    now: i64,
) -> ApiResult<ReportData> {
    let everywhere = Scope::everywhere();
    let prefix = prefix_of(region);
    let period = month.period();
    let periods = [
        period,
        period.previous(Some(indicators::PeriodKind::Month)),
        period.year_before(Some(indicators::PeriodKind::Month)),
    ];
    let mut sums_of = Vec::new();
    for p in periods {
        sums_of.push(total(
            &sums(state, &everywhere, &prefix, p, None, CellGroup::Total).await?,
        ));
    }
    let gauges = total(
        &sums(
            state,
            &everywhere,
            &prefix,
            gauge_period(),
            None,
            CellGroup::Total,
        )
        .await?,
    );

    // The region among its siblings (counties of its city, cities of its province).
    let (_, rules) = warning_rules(state).await?;
    let (_, index) = composite_index(state).await?;
    let parent_prefix = &prefix[..prefix.len() - 2];
    let (siblings, per_span) =
        sibling_sums(state, &everywhere, parent_prefix, region.level, &periods).await?;
    let assessed = assess_regions(&rules, &per_span);
    let scores = indicators::composite(&index, &|r, i| per_span[0][r].value(i), siblings.len());
    let ranks = indicators::rank(&scores, Better::Higher);
    let me = siblings.iter().position(|s| s.code == region.code);
    let overall = me
        .map(|i| assessed[i].clone())
        .unwrap_or_else(|| indicators::assess(&[], &|_| Default::default()));
    let parent_name = match &region.parent_code {
        Some(p) => state
            .store
            .region(&everywhere, p)
            .await?
            .map(|r| r.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let rank = me.and_then(|i| ranks[i].map(|r| (r, siblings.len(), parent_name.clone())));

    // Its children.
    let child_level = child_level(prefix.len()).unwrap_or(Level::Township);
    let (kids, kid_spans) =
        sibling_sums(state, &everywhere, &prefix, child_level, &periods).await?;
    let kid_assessed = assess_regions(&rules, &kid_spans);
    let kid_scores = indicators::composite(&index, &|r, i| kid_spans[0][r].value(i), kids.len());
    let kid_ranks = indicators::rank(&kid_scores, Better::Higher);
    let children: Vec<Child> = kids
        .iter()
        .enumerate()
        .map(|(i, k)| Child {
            code: k.code.clone(),
            prefix: prefix_of(k),
            name: k.name.clone(),
            counters: kid_spans[0][i],
            assessment: kid_assessed[i].clone(),
            composite: kid_scores[i],
            rank: kid_ranks[i],
        })
        .collect();

    // Days and categories of the month.
    let by_day: HashMap<String, Counters> =
        sums(state, &everywhere, &prefix, period, None, CellGroup::Day)
            .await?
            .into_iter()
            .collect();
    let days = (0..period.days())
        .map(|d| {
            let date = period.from.add_days(d);
            let key = date.days_since_epoch().to_string();
            (date, by_day.get(&key).copied().unwrap_or_default())
        })
        .collect();
    let catalogue = state.catalogue().1;
    let mut categories: Vec<(String, String, Counters)> = sums(
        state,
        &everywhere,
        &prefix,
        period,
        None,
        CellGroup::Category,
    )
    .await?
    .into_iter()
    .filter(|(_, c)| !c.is_zero())
    .map(|(code, c)| {
        let name = catalogue
            .find(&code)
            .map(|x| x.name_zh.clone())
            .unwrap_or_else(|| "未分类".into());
        (code, name, c)
    })
    .collect();
    categories.sort_by(|a, b| {
        b.2[Counter::Received]
            .cmp(&a.2[Counter::Received])
            .then(a.0.cmp(&b.0))
    });

    // Open and overdue now.
    let filter = MatterFilter {
        under: Some(prefix.clone()),
        states: MatterState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str().to_string())
            .collect(),
        overdue: Some(true),
        ..MatterFilter::default()
    };
    let overdue_total = state.store.count_matters(&everywhere, &filter).await?;
    let mut overdue = state
        .store
        .matters(&everywhere, &filter, &Page::first(OVERDUE_XLSX))
        .await?;
    overdue.sort_by_key(|m| (m.deadline.unwrap_or(i64::MAX), m.id));

    // Shapes: stored boundaries, else the union of the child's grids.
    let mut codes: Vec<String> = children.iter().map(|c| c.code.clone()).collect();
    codes.push(region.code.clone());
    let stored: HashMap<String, Vec<u8>> = state
        .store
        .region_shapes(&codes)
        .await?
        .into_iter()
        .collect();
    let decode = |code: &str| -> Option<Rings> {
        stored
            .get(code)
            .and_then(|b| pingan_geo::geometry::decode(b).ok())
            .map(|mp| rings_of(&mp))
    };
    let grid_index = state.index();
    let mut shapes = Vec::new();
    for (i, c) in children.iter().enumerate() {
        let rings = decode(&c.code).unwrap_or_else(|| {
            grid_index
                .under(&c.prefix)
                .iter()
                .flat_map(|(_, mp)| rings_of(mp))
                .collect()
        });
        if !rings.is_empty() {
            shapes.push((i, rings));
        }
    }
    let outline = decode(&region.code).unwrap_or_default();

    Ok(ReportData {
        region: region.clone(),
        month,
        made_at: now,
        this: sums_of[0],
        previous: sums_of[1],
        last_year: sums_of[2],
        open: gauges[Counter::Open],
        open_overdue: gauges[Counter::OpenOverdue],
        overall,
        rank,
        days,
        categories,
        children,
        child_level,
        overdue,
        overdue_total,
        shapes,
        outline,
    })
}

// ------------------------------------------------------------------ format

fn colour_zh(c: Colour) -> &'static str {
    match c {
        Colour::Green => "绿",
        Colour::Yellow => "黄",
        Colour::Red => "红",
    }
}

fn colour_rgb(c: Colour) -> [f32; 3] {
    match c {
        Colour::Green => [0.20, 0.62, 0.36],
        Colour::Yellow => [0.96, 0.74, 0.16],
        Colour::Red => [0.86, 0.22, 0.20],
    }
}

/// An indicator's value as the report prints it.
fn shown(c: &Counters, i: Indicator) -> String {
    match c.value(i) {
        None => "—".into(),
        Some(v) if i == Indicator::AverageRating => format!("{v:.2}"),
        Some(v) if i.is_rate() => format!("{:.2}%", indicators::percent(v)),
        Some(v) => format!("{v:.0}"),
    }
}

/// The change of an indicator against a base: points for rates, percent
/// for counts.
fn change(now: &Counters, base: &Counters, i: Indicator) -> String {
    match (now.value(i), base.value(i)) {
        (Some(a), Some(b)) if i == Indicator::AverageRating => format!("{:+.2}", a - b),
        (Some(a), Some(b)) if i.is_rate() => format!("{:+.2} 个百分点", (a - b) * 100.0),
        (Some(a), Some(b)) if b != 0.0 => format!("{:+.1}%", (a - b) / b * 100.0),
        _ => "—".into(),
    }
}

fn local_time(ms: i64) -> String {
    let t = LocalDateTime::from_utc_ms(ms);
    format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
}

fn level_zh(level: Level) -> &'static str {
    match level {
        Level::Province => "省",
        Level::City => "市",
        Level::County => "县（市、区）",
        Level::Township => "乡镇（街道）",
        Level::Village => "村（社区）",
    }
}

/// The indicators of the summary table, in order.
const SUMMARY: [Indicator; 12] = [
    Indicator::Received,
    Indicator::Registered,
    Indicator::Dispatched,
    Indicator::Closed,
    Indicator::RegistrationRate,
    Indicator::ClosureRate,
    Indicator::OnTimeRate,
    Indicator::OverdueRate,
    Indicator::ReworkRate,
    Indicator::LowLevelRate,
    Indicator::SatisfactionRate,
    Indicator::AverageRating,
];

// ------------------------------------------------------------------ PDF

const MARGIN: f32 = 42.0;

/// A numbered section's title, kept on one page with the first `keep`
/// points of what follows.
fn heading(flow: &mut Flow, text: &str, keep: f32) {
    flow.need(40.0 + keep);
    flow.gap(14.0);
    flow.y -= 13.0;
    let (x, y) = (flow.margin, flow.y);
    let w = flow.width();
    let page = flow.page();
    page.fill_rect_rgb(x, y - 3.0, 4.0, 16.0, [0.12, 0.35, 0.65]);
    page.text(x + 10.0, y, 13.0, text);
    page.line(x, y - 6.0, x + w, y - 6.0, 0.5);
    flow.y -= 14.0;
}

/// A bar chart of the month's daily intake.
fn daily_chart(flow: &mut Flow, days: &[(LocalDate, Counters)]) {
    let height = 150.0;
    flow.need(height + 44.0);
    flow.y -= 14.0;
    let (left, bottom) = (flow.margin + 30.0, flow.y - height);
    let width = flow.width() - 34.0;
    let max = days
        .iter()
        .map(|(_, c)| c[Counter::Received])
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top for the scale: 1, 2 or 5 times a power of ten.
    let mut top = 1i64;
    while top < max {
        top = match top.to_string().chars().next() {
            Some('1') => top * 2,
            Some('2') => top / 2 * 5,
            _ => top * 2,
        };
    }
    let page = flow.page();
    for t in 0..=4 {
        let v = top * t / 4;
        let y = bottom + height * t as f32 / 4.0;
        page.line(left, y, left + width, y, if t == 0 { 0.8 } else { 0.2 });
        page.text_right(left - 4.0, y - 3.0, 7.0, &v.to_string());
    }
    let n = days.len().max(1) as f32;
    let slot = width / n;
    for (i, (date, c)) in days.iter().enumerate() {
        let v = c[Counter::Received] as f32;
        let h = height * v / top as f32;
        let x = left + slot * i as f32;
        page.fill_rect_rgb(x + slot * 0.15, bottom, slot * 0.7, h, [0.18, 0.45, 0.78]);
        if i == 0 || (date.day() % 5 == 0) {
            page.text_centred(x + slot / 2.0, bottom - 10.0, 7.0, &date.day().to_string());
        }
    }
    page.text(left, bottom + height + 6.0, 8.0, "每日受理数（件）");
    flow.y = bottom - 20.0;
}

/// Horizontal bars of the top categories.
fn category_chart(flow: &mut Flow, categories: &[(String, String, Counters)], received: i64) {
    let rows = categories.len().min(TOP_CATEGORIES);
    if rows == 0 {
        flow.paragraph(10.0, 0.0, "本月无受理事件。");
        return;
    }
    let bar = 14.0;
    let height = rows as f32 * (bar + 4.0);
    flow.need(height + 10.0);
    let label_w = 150.0;
    let left = flow.margin + label_w;
    let width = flow.width() - label_w - 90.0;
    let max = categories[0].2[Counter::Received].max(1) as f32;
    let (top, margin) = (flow.y, flow.margin);
    let page = flow.page();
    for (i, (code, name, c)) in categories.iter().take(rows).enumerate() {
        let y = top - (i as f32 + 1.0) * (bar + 4.0);
        let v = c[Counter::Received];
        let label = if code.is_empty() {
            name.clone()
        } else {
            format!("{code} {name}")
        };
        let label: String = pdf::wrap(&label, 8.5, label_w - 8.0)
            .into_iter()
            .next()
            .unwrap_or_default();
        page.text(margin, y + 3.5, 8.5, &label);
        page.fill_rect_rgb(left, y, width * v as f32 / max, bar, [0.30, 0.55, 0.80]);
        let share = if received > 0 {
            format!("{v} 件  {:.1}%", v as f64 * 100.0 / received as f64)
        } else {
            format!("{v} 件")
        };
        page.text(left + width * v as f32 / max + 4.0, y + 3.5, 8.0, &share);
    }
    flow.y = top - height - 10.0;
}

/// The sub-regions filled by their overall warning colour.
fn warning_map(flow: &mut Flow, data: &ReportData) {
    let size = 300.0;
    flow.need(size + 20.0);
    let (mut west, mut south, mut east, mut north) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let all = data
        .shapes
        .iter()
        .flat_map(|(_, r)| r.iter())
        .chain(data.outline.iter());
    for ring in all {
        for &(x, y) in ring {
            west = west.min(x);
            east = east.max(x);
            south = south.min(y);
            north = north.max(y);
        }
    }
    let top = flow.y;
    if west > east {
        flow.paragraph(10.0, 0.0, "没有可用的边界数据。");
        return;
    }
    // Equirectangular with the middle latitude's scale: right for a county or city.
    let k = ((south + north) / 2.0).to_radians().cos();
    let (w, h) = (((east - west) * k).max(1e-9), (north - south).max(1e-9));
    let scale = (size as f64 / w).min(size as f64 / h);
    let x0 = flow.margin as f64 + (size as f64 - w * scale) / 2.0;
    let y0 = (top - size) as f64 + (size as f64 - h * scale) / 2.0;
    let project = |rings: &Rings| -> Vec<Vec<(f32, f32)>> {
        rings
            .iter()
            .map(|ring| {
                let mut out: Vec<(f32, f32)> = Vec::with_capacity(ring.len());
                for &(x, y) in ring {
                    let p = (
                        (x0 + (x - west) * k * scale) as f32,
                        (y0 + (y - south) * scale) as f32,
                    );
                    // Drop points closer than a third of a point: invisible, and they bloat the file.
                    if out
                        .last()
                        .is_none_or(|q| (q.0 - p.0).abs() + (q.1 - p.1).abs() > 0.33)
                    {
                        out.push(p);
                    }
                }
                out
            })
            .collect()
    };
    let lx = flow.margin + size + 24.0;
    let page = flow.page();
    for (i, rings) in &data.shapes {
        let c = &data.children[*i];
        let rgb = if c.counters.is_zero() {
            [0.86, 0.86, 0.86]
        } else {
            colour_rgb(c.assessment.overall)
        };
        page.polygons(&project(rings), rgb, None);
    }
    if !data.outline.is_empty() {
        let outline = project(&data.outline);
        for ring in &outline {
            for pair in ring.windows(2) {
                page.line(pair[0].0, pair[0].1, pair[1].0, pair[1].1, 0.8);
            }
        }
    }
    // Legend and counts beside the map.
    let mut ly = top - 14.0;
    page.text(
        lx,
        ly,
        10.0,
        &format!("{}预警等级", level_zh(data.child_level)),
    );
    for colour in [Colour::Red, Colour::Yellow, Colour::Green] {
        ly -= 20.0;
        let n = data
            .children
            .iter()
            .filter(|c| !c.counters.is_zero() && c.assessment.overall == colour)
            .count();
        page.fill_rect_rgb(lx, ly - 2.0, 14.0, 10.0, colour_rgb(colour));
        page.text(
            lx + 20.0,
            ly,
            9.0,
            &format!("{}色  {n} 个", colour_zh(colour)),
        );
    }
    ly -= 20.0;
    let idle = data
        .children
        .iter()
        .filter(|c| c.counters.is_zero())
        .count();
    page.fill_rect_rgb(lx, ly - 2.0, 14.0, 10.0, [0.86, 0.86, 0.86]);
    page.text(lx + 20.0, ly, 9.0, &format!("本月无数据  {idle} 个"));
    ly -= 28.0;
    let mut warned: Vec<&Child> = data
        .children
        .iter()
        .filter(|c| !c.counters.is_zero() && c.assessment.overall != Colour::Green)
        .collect();
    warned.sort_by_key(|c| (c.assessment.overall != Colour::Red, c.code.clone()));
    for c in warned.iter().take(14) {
        page.text_rgb(
            lx,
            ly,
            9.0,
            &format!("● {}", c.name),
            colour_rgb(c.assessment.overall),
        );
        ly -= 14.0;
    }
    flow.y = top - size - 10.0;
}

fn footer(doc: &mut pdf::Document, left: &str) {
    let n = doc.page_count();
    for i in 0..n {
        if let Some(page) = doc.page_mut(i) {
            page.line(MARGIN, 32.0, A4_WIDTH - MARGIN, 32.0, 0.3);
            page.text(MARGIN, 20.0, 8.0, left);
            page.text_right(
                A4_WIDTH - MARGIN,
                20.0,
                8.0,
                &format!("第 {} 页 / 共 {n} 页", i + 1),
            );
        }
    }
}

/// The report as a PDF, and its page count.
pub fn render_pdf(data: &ReportData) -> (Vec<u8>, usize) {
    let title = format!(
        "{}平安建设月度报表（{}年{}月）",
        data.region.name,
        data.month.year(),
        data.month.month()
    );
    let mut flow = Flow::new(&title, MARGIN);
    flow.doc.compress = true;
    // Title band.
    flow.y = A4_HEIGHT - MARGIN - 6.0;
    flow.centred(18.0, &title);
    flow.centred(
        9.5,
        &format!(
            "统计期 {} 至 {} · 编制于 {}（北京时间） · 平安综治信息平台",
            data.month.first_day(),
            data.month.next().first_day().add_days(-1),
            local_time(data.made_at)
        ),
    );
    flow.gap(6.0);

    // The verdict box.
    let colour = data.overall.overall;
    flow.need(56.0);
    let top = flow.y;
    let (x, w) = (flow.margin, flow.width());
    {
        let page = flow.page();
        page.rect(x, top - 50.0, w, 50.0, 0.6);
        page.fill_rect_rgb(x, top - 50.0, 8.0, 50.0, colour_rgb(colour));
        page.text(
            x + 18.0,
            top - 20.0,
            12.0,
            &format!("综合预警：{}色", colour_zh(colour)),
        );
        let rank = match &data.rank {
            Some((r, n, parent)) => format!(
                "综合指数在{parent}{n}个{}中排第 {r} 位",
                level_zh(data.region.level)
            ),
            None => "综合指数：本月无数据".into(),
        };
        page.text(x + 150.0, top - 20.0, 10.0, &rank);
        page.text(
            x + 18.0,
            top - 40.0,
            9.5,
            &format!(
                "当前在办 {} 件，其中超期 {} 件；本月受理 {} 件，结案率 {}，群众满意率 {}",
                data.open,
                data.open_overdue,
                data.this[Counter::Received],
                shown(&data.this, Indicator::ClosureRate),
                shown(&data.this, Indicator::SatisfactionRate)
            ),
        );
    }
    flow.y = top - 58.0;
    for reason in data.overall.reasons.iter().take(6) {
        flow.paragraph(9.0, 8.0, &format!("· {}", reason.text_zh));
    }

    heading(&mut flow, "一、主要指标", 60.0);
    let mut rows = vec![vec![
        "指标".to_string(),
        "本月".into(),
        "上月".into(),
        "环比".into(),
        "去年同月".into(),
        "同比".into(),
    ]];
    for i in SUMMARY {
        rows.push(vec![
            i.name_zh().to_string(),
            shown(&data.this, i),
            shown(&data.previous, i),
            change(&data.this, &data.previous, i),
            shown(&data.last_year, i),
            change(&data.this, &data.last_year, i),
        ]);
    }
    flow.table_styled(9.0, &[125.0, 70.0, 70.0, 85.0, 70.0, 91.28], &rows, true);

    heading(&mut flow, "二、每日受理", 190.0);
    daily_chart(&mut flow, &data.days);

    heading(
        &mut flow,
        &format!("三、{}预警分布", level_zh(data.child_level)),
        320.0,
    );
    warning_map(&mut flow, data);

    heading(
        &mut flow,
        &format!("四、{}指标与综合指数排名", level_zh(data.child_level)),
        60.0,
    );
    let mut ranked: Vec<&Child> = data.children.iter().collect();
    ranked.sort_by_key(|c| (c.rank.unwrap_or(u32::MAX), c.code.clone()));
    let mut rows = vec![vec![
        "排名".to_string(),
        "名称".into(),
        "受理".into(),
        "结案率".into(),
        "按期结案率".into(),
        "满意率".into(),
        "综合指数".into(),
        "预警".into(),
    ]];
    for c in &ranked {
        rows.push(vec![
            c.rank.map_or("—".into(), |r| r.to_string()),
            c.name.clone(),
            c.counters[Counter::Received].to_string(),
            shown(&c.counters, Indicator::ClosureRate),
            shown(&c.counters, Indicator::OnTimeRate),
            shown(&c.counters, Indicator::SatisfactionRate),
            c.composite.map_or("—".into(), |s| format!("{s:.1}")),
            if c.counters.is_zero() {
                "—".into()
            } else {
                colour_zh(c.assessment.overall).to_string()
            },
        ]);
    }
    flow.table_styled(
        8.5,
        &[34.0, 120.0, 48.0, 62.0, 72.0, 60.0, 60.0, 55.28],
        &rows,
        true,
    );
    let reasons: Vec<String> = ranked
        .iter()
        .filter(|c| !c.counters.is_zero())
        .flat_map(|c| {
            c.assessment
                .reasons
                .iter()
                .map(move |r| format!("{}：{}", c.name, r.text_zh))
        })
        .collect();
    if !reasons.is_empty() {
        flow.gap(6.0);
        flow.paragraph(9.5, 0.0, "预警原因：");
        for r in reasons.iter().take(30) {
            flow.paragraph(8.5, 8.0, &format!("· {r}"));
        }
        if reasons.len() > 30 {
            flow.paragraph(
                8.5,
                8.0,
                &format!("……另有 {} 条，见 XLSX", reasons.len() - 30),
            );
        }
    }

    heading(&mut flow, "五、事件类别前十", 80.0);
    category_chart(&mut flow, &data.categories, data.this[Counter::Received]);

    heading(&mut flow, "六、超期在办事件", 60.0);
    if data.overdue.is_empty() {
        flow.paragraph(10.0, 0.0, "目前没有超期在办的事件。");
    } else {
        flow.paragraph(
            9.5,
            0.0,
            &format!(
                "共 {} 件，按期限先后列出{}。",
                data.overdue_total,
                if data.overdue_total as usize > OVERDUE_PDF {
                    format!("前 {OVERDUE_PDF} 件，全部见 XLSX")
                } else {
                    String::new()
                }
            ),
        );
        let names = child_names(data);
        let catalogue_rows = overdue_rows(data, &names, data.made_at);
        let mut rows = vec![vec![
            "编号".to_string(),
            "类别".into(),
            "所在地".into(),
            "承办层级".into(),
            "期限".into(),
            "超期".into(),
        ]];
        rows.extend(catalogue_rows.into_iter().take(OVERDUE_PDF));
        flow.table_styled(8.0, &[80.0, 120.0, 100.0, 70.0, 80.0, 61.28], &rows, true);
    }

    heading(&mut flow, "附：指标口径", 30.0);
    for i in SUMMARY.iter().filter(|i| i.is_rate()) {
        flow.paragraph(
            8.0,
            0.0,
            &format!("{}（{}）= {}", i.name_zh(), i.name_en(), i.formula()),
        );
    }
    flow.paragraph(
        8.0,
        0.0,
        "事件计数按事件发生的北京时间日期计入；应结案数（due）按当前期限落在统计期内的事件计。综合指数按各指标在同级地区间的最小-最大标准化（0-100）加权；预警规则由管理员设置。",
    );

    let mut doc = flow.doc;
    footer(
        &mut doc,
        &format!("{} · {} 平安建设月度报表", data.region.name, data.month),
    );
    let pages = doc.page_count();
    (doc.render(), pages)
}

fn child_names(data: &ReportData) -> HashMap<&str, &str> {
    data.children
        .iter()
        .map(|c| (c.prefix.as_str(), c.name.as_str()))
        .collect()
}

/// The overdue list's rows: tracking code, category, where, holder level,
/// deadline and days overdue as of `now`.
fn overdue_rows(data: &ReportData, names: &HashMap<&str, &str>, now: i64) -> Vec<Vec<String>> {
    let digits = data.child_level.significant_digits();
    data.overdue
        .iter()
        .map(|m| {
            let place = names
                .get(m.grid_code.get(..digits).unwrap_or_default())
                .copied()
                .unwrap_or_default()
                .to_string();
            let holder = match m.holder.len() {
                0..=4 => "市级",
                5..=6 => "县级",
                7..=9 => "镇街级",
                _ => "村社级",
            };
            let late = m
                .deadline
                .map(|d| ((now - d).max(0) as f64 / 86_400_000.0).ceil() as i64);
            vec![
                m.tracking_code.clone(),
                m.category_code.clone().unwrap_or_else(|| "未分类".into()),
                place,
                holder.into(),
                m.deadline.map(local_time).unwrap_or_else(|| "—".into()),
                late.map_or("—".into(), |d| format!("{d} 天")),
            ]
        })
        .collect()
}

// ------------------------------------------------------------------ XLSX

fn indicator_cell(c: &Counters, i: Indicator) -> Cell {
    match c.value(i) {
        None => Cell::Empty,
        Some(v) if i.is_rate() && i != Indicator::AverageRating => Cell::Percent(v),
        Some(v) => Cell::Number(v),
    }
}

/// The report's tables as a workbook.
pub fn render_xlsx(data: &ReportData) -> Vec<u8> {
    let mut summary = Sheet {
        name: "主要指标".into(),
        widths: vec![26.0, 14.0, 14.0, 14.0, 40.0],
        rows: vec![vec![
            "指标".into(),
            data.month.to_string().into(),
            data.month.previous().to_string().into(),
            format!("{}-{:02}", data.month.year() - 1, data.month.month()).into(),
            "口径".into(),
        ]],
    };
    for &i in Indicator::ALL {
        summary.rows.push(vec![
            i.name_zh().into(),
            indicator_cell(&data.this, i),
            indicator_cell(&data.previous, i),
            indicator_cell(&data.last_year, i),
            i.formula().into(),
        ]);
    }
    summary.rows.push(vec![
        "当前在办".into(),
        data.open.into(),
        Cell::Empty,
        Cell::Empty,
        "编制时".into(),
    ]);
    summary.rows.push(vec![
        "当前超期在办".into(),
        data.open_overdue.into(),
        Cell::Empty,
        Cell::Empty,
        "编制时".into(),
    ]);

    let mut head: Vec<Cell> = vec!["代码".into(), "名称".into()];
    head.extend(Indicator::ALL.iter().map(|i| Cell::from(i.name_zh())));
    head.extend(["综合指数".into(), "排名".into(), "预警".into()]);
    let mut regions = Sheet {
        name: level_zh(data.child_level).into(),
        widths: vec![15.0, 18.0],
        rows: vec![head],
    };
    for c in &data.children {
        let mut row: Vec<Cell> = vec![c.code.clone().into(), c.name.clone().into()];
        row.extend(
            Indicator::ALL
                .iter()
                .map(|&i| indicator_cell(&c.counters, i)),
        );
        row.push(c.composite.map_or(Cell::Empty, Cell::Number));
        row.push(c.rank.map_or(Cell::Empty, |r| i64::from(r).into()));
        row.push(colour_str(c.assessment.overall).into());
        regions.rows.push(row);
    }

    let mut warnings = Sheet {
        name: "预警原因".into(),
        widths: vec![15.0, 18.0, 18.0, 10.0, 60.0],
        rows: vec![vec![
            "代码".into(),
            "名称".into(),
            "指标".into(),
            "颜色".into(),
            "原因".into(),
        ]],
    };
    for c in &data.children {
        for r in &c.assessment.reasons {
            warnings.rows.push(vec![
                c.code.clone().into(),
                c.name.clone().into(),
                r.indicator.name_zh().into(),
                colour_str(r.colour).into(),
                r.text_zh.clone().into(),
            ]);
        }
    }

    let mut head: Vec<Cell> = vec!["类别代码".into(), "类别".into()];
    head.extend(Counter::ALL.iter().map(|c| Cell::from(c.as_str())));
    let mut categories = Sheet {
        name: "事件类别".into(),
        widths: vec![10.0, 22.0],
        rows: vec![head],
    };
    for (code, name, c) in &data.categories {
        let mut row: Vec<Cell> = vec![code.clone().into(), name.clone().into()];
        row.extend(Counter::ALL.iter().map(|&k| Cell::from(c[k])));
        categories.rows.push(row);
    }

    let mut head: Vec<Cell> = vec!["日期".into()];
    head.extend(Counter::ALL.iter().map(|c| Cell::from(c.as_str())));
    let mut days = Sheet {
        name: "每日".into(),
        widths: vec![12.0],
        rows: vec![head],
    };
    for (date, c) in &data.days {
        let mut row: Vec<Cell> = vec![date.to_string().into()];
        row.extend(Counter::ALL.iter().map(|&k| Cell::from(c[k])));
        days.rows.push(row);
    }

    let names = child_names(data);
    let mut overdue = Sheet {
        name: "超期在办".into(),
        widths: vec![16.0, 12.0, 18.0, 10.0, 18.0, 10.0],
        rows: vec![vec![
            "编号".into(),
            "类别".into(),
            "所在地".into(),
            "承办层级".into(),
            "期限（北京时间）".into(),
            "超期".into(),
        ]],
    };
    for row in overdue_rows(data, &names, data.made_at) {
        overdue.rows.push(row.into_iter().map(Cell::Text).collect());
    }
    xlsx::workbook(&[summary, regions, warnings, categories, days, overdue])
}

// ------------------------------------------------------------------ making

/// Makes and keeps the report of a county or city for a month.
pub async fn make(
    state: &AppState,
    region: &Region,
    month: Month,
    origin: &str,
    by: Option<i64>,
    now: i64,
) -> ApiResult<MonthlyReport> {
    let data = gather(state, region, month, now).await?;
    let overall = colour_str(data.overall()).to_string();
    // Drawing is pure CPU: keep it off the async workers.
    let (pdf, pages, xlsx) = tokio::task::spawn_blocking(move || {
        let (pdf, pages) = render_pdf(&data);
        (pdf, pages, render_xlsx(&data))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(state
        .store
        .save_monthly_report(&NewMonthlyReport {
            region_code: region.code.clone(),
            region_name: region.name.clone(),
            level: region.level.as_str().into(),
            month: month.to_string(),
            made_at: now,
            made_by: by,
            origin: origin.into(),
            overall,
            pdf,
            pdf_pages: pages as i64,
            xlsx,
        })
        .await?)
}

/// Makes the scheduled reports still missing for the newest month due by
/// `now`: one per county and city. Answers how many it made. Run at start
/// (catching up after downtime) and then every few minutes; a report made
/// on request for that month counts as made.
pub async fn catch_up(state: &AppState, now: i64) -> ApiResult<usize> {
    let month = state.config.report_schedule.latest_due(now);
    let done: std::collections::HashSet<String> = state
        .store
        .monthly_report_regions(&month.to_string())
        .await?
        .into_iter()
        .collect();
    let everywhere = Scope::everywhere();
    let mut made = 0;
    for level in [Level::City, Level::County] {
        for region in state.store.regions_at_level(&everywhere, "", level).await? {
            if done.contains(&region.code) || !region.active {
                continue;
            }
            make(state, &region, month, "schedule", None, now).await?;
            made += 1;
        }
    }
    Ok(made)
}

/// Checks for due reports at start and then every `every`.
pub fn spawn(state: AppState, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match catch_up(&state, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(made = n, "monthly reports made"),
                Err(e) => tracing::warn!(error = %e, "monthly reports failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

// ------------------------------------------------------------------ HTTP

/// A stored monthly report (its files are downloaded separately).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    /// city or county.
    pub level: String,
    /// `YYYY-MM`.
    pub month: String,
    /// When it was made (UTC ms).
    pub made_at: i64,
    pub made_by: Option<i64>,
    /// schedule, request or cli.
    pub origin: String,
    /// The region's overall warning colour that month: green, yellow or red.
    pub overall: String,
    pub pdf_pages: i64,
    pub pdf_bytes: i64,
    pub xlsx_bytes: i64,
    /// Where to download the files.
    pub pdf_url: String,
    pub xlsx_url: String,
}

impl From<MonthlyReport> for ReportView {
    fn from(r: MonthlyReport) -> Self {
        ReportView {
            pdf_url: format!("/api/v1/reports/{}/pdf", r.id),
            xlsx_url: format!("/api/v1/reports/{}/xlsx", r.id),
            id: r.id,
            region_code: r.region_code,
            region_name: r.region_name,
            level: r.level,
            month: r.month,
            made_at: r.made_at,
            made_by: r.made_by,
            origin: r.origin,
            overall: r.overall,
            pdf_pages: r.pdf_pages,
            pdf_bytes: r.pdf_bytes,
            xlsx_bytes: r.xlsx_bytes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    pub items: Vec<ReportView>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only this month, `YYYY-MM`.
    pub month: Option<String>,
    /// The cursor from the previous page.
    pub after: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<u32>,
}

/// Make a report now.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MakeReport {
    /// A county or city code (12 digits) within the caller's scope.
    pub region: String,
    /// `YYYY-MM`, not after the current month (a month not yet over is
    /// reported up to now).
    pub month: String,
}

/// Leaders, centre operators and admins read the reports of their scope.
fn may_read(caller: &Account) -> ApiResult<()> {
    if matches!(
        caller.role,
        Role::Leader | Role::CentreOperator | Role::Admin
    ) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

fn parse_month(text: &str) -> ApiResult<Month> {
    text.parse::<Month>().map_err(|_| {
        ApiError::invalid(
            "invalid_month",
            format!("月份“{text}”无效，应为 YYYY-MM"),
            format!("{text:?} is not a month YYYY-MM"),
        )
    })
}

/// Monthly reports of the counties and cities in the caller's scope, newest
/// month first.
#[utoipa::path(get, path = "/api/v1/reports", operation_id = "list_reports", tag = "indicators", params(ReportQuery),
    responses((status = 200, body = ReportList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<ReportList>> {
    may_read(&caller)?;
    let month = q.month.as_deref().map(parse_month).transpose()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::InvalidQuery("limit must be 1-200".into()));
    }
    let month = month.map(|m| m.to_string());
    let rows = state
        .store
        .monthly_reports(
            &caller.scope,
            month.as_deref(),
            &Page {
                after: q.after,
                limit,
            },
        )
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| {
            rows.last()
                .map(|r| format!("{}/{}", r.month, r.region_code))
        })
        .flatten();
    Ok(Json(ReportList {
        items: rows.into_iter().map(ReportView::from).collect(),
        next,
    }))
}

/// Makes (or makes again) the report of a county or city for a month, now.
#[utoipa::path(post, path = "/api/v1/reports", operation_id = "make_report", tag = "indicators", request_body = MakeReport,
    responses((status = 201, body = ReportView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<MakeReport>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    may_read(&caller)?;
    let month = parse_month(&body.month)?;
    let now = now_ms();
    if month > Month::of(LocalDate::from_utc_ms(now)) {
        return Err(ApiError::invalid(
            "future_month",
            "不能为尚未开始的月份编制月报",
            "a report cannot cover a month that has not begun",
        ));
    }
    if body.region.len() != 12 || !body.region.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "invalid_region",
            "地区代码应为12位数字",
            "region must be a 12-digit code",
        ));
    }
    let region = report_region(&state, &body.region).await?;
    if !caller.scope.covers(&region.code) {
        return Err(ApiError::OutOfScope(region.code));
    }
    let made = make(&state, &region, month, "request", Some(caller.id), now).await?;
    state.live.changed();
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// One report's details.
#[utoipa::path(get, path = "/api/v1/reports/{id}", operation_id = "monthly_report", tag = "indicators", params(("id" = i64, Path)),
    responses((status = 200, body = ReportView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ReportView>> {
    may_read(&caller)?;
    let r = state
        .store
        .monthly_report(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound("report"))?;
    Ok(Json(r.into()))
}

async fn file(
    state: &AppState,
    caller: &Account,
    id: i64,
    kind: ReportFile,
) -> ApiResult<Response> {
    may_read(caller)?;
    let r = state
        .store
        .monthly_report(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound("report"))?;
    let body = state
        .store
        .monthly_report_file(&caller.scope, id, kind)
        .await?
        .ok_or(ApiError::NotFound("report"))?;
    let (ext, mime) = match kind {
        ReportFile::Pdf => ("pdf", "application/pdf"),
        ReportFile::Xlsx => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    // An ASCII name for old clients, the Chinese one as RFC 5987 UTF-8.
    let ascii = format!("pingan-report-{}-{}.{ext}", r.region_code, r.month);
    let name = format!("{}平安月报-{}.{ext}", r.region_name, r.month);
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// The report as a PDF.
#[utoipa::path(get, path = "/api/v1/reports/{id}/pdf", operation_id = "report_pdf", tag = "indicators", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", description = "The report"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pdf_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    file(&state, &caller, id, ReportFile::Pdf).await
}

/// The report's tables as an XLSX workbook.
#[utoipa::path(get, path = "/api/v1/reports/{id}/xlsx", operation_id = "report_xlsx", tag = "indicators", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "The tables"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn xlsx_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    file(&state, &caller, id, ReportFile::Xlsx).await
}
