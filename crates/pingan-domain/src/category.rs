//! The catalogue of matter categories: what a matter is about, how urgent it
//! may be, how long each severity may take, and where it is handled by default.
//!
//! The default catalogue follows the 大类/小类 tradition of CJ/T 214 with 2+2
//! digit codes and the local time limits of DOMAIN.md §4. It is data, not
//! code: admins edit it through the API (hence the serde derives) and
//! [`Catalogue::validate`] checks an edited one before it is saved. A matter
//! keeps the limits it was dispatched under, so editing never moves a deadline.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::TimeLimit;
use crate::codes::{CodeError, Level};
use crate::unit::UnitKind;

fn check_code(code: &str, expected: usize, what: &'static str) -> Result<(), CodeError> {
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits(code.to_string()));
    }
    if code.len() != expected {
        return Err(CodeError::WrongLength {
            code: code.to_string(),
            len: code.len(),
            expected: what,
        });
    }
    if code.bytes().all(|b| b == b'0') {
        return Err(CodeError::Malformed(code.to_string()));
    }
    Ok(())
}

/// A 2-digit code of a major category (大类), e.g. `01`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MajorCode(String);

impl MajorCode {
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        check_code(code, 2, "2")?;
        Ok(MajorCode(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MajorCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        MajorCode::parse(&s)
    }
}

impl From<MajorCode> for String {
    fn from(c: MajorCode) -> String {
        c.0
    }
}

impl fmt::Display for MajorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 4-digit code of a category (小类): its major's two digits and two of
/// its own, e.g. `0101`. Neither half may be `00`, so a code never stands for
/// its major by accident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        check_code(code, 4, "4")?;
        if &code[..2] == "00" || &code[2..] == "00" {
            return Err(CodeError::Malformed(code.to_string()));
        }
        Ok(CategoryCode(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The major category it belongs to: its first two digits.
    pub fn major(&self) -> MajorCode {
        MajorCode(self.0[..2].to_string())
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CategoryCode::parse(&s)
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for CategoryCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CategoryCode::parse(s)
    }
}

/// How urgent a matter is (紧急程度), set at registration; it picks the time
/// limit from the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 一般
    Normal,
    /// 紧急
    Urgent,
    /// 特急: a threat to life or property now; minute-level milestones on the wall clock.
    Emergency,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Normal, Severity::Urgent, Severity::Emergency];

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Urgent => "urgent",
            Severity::Emergency => "emergency",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            Severity::Normal => "一般",
            Severity::Urgent => "紧急",
            Severity::Emergency => "特急",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a limit runs on the wall clock rather than on working time.
fn is_wall_clock(limit: TimeLimit) -> bool {
    matches!(limit, TimeLimit::CalendarMinutes(_))
}

/// Minutes for ordering limits of the same clock, with a nominal 8-hour
/// working day. Only a sanity check for the catalogue: real deadlines come
/// from the calendar, whose working day may be shorter.
fn nominal_minutes(limit: TimeLimit) -> u64 {
    let n = u64::from(limit.amount());
    match limit {
        TimeLimit::WorkingMinutes(_) | TimeLimit::CalendarMinutes(_) => n,
        TimeLimit::WorkingHours(_) => n * 60,
        TimeLimit::WorkingDays(_) => n * 8 * 60,
    }
}

/// An intermediate point a matter must reach before its limit (节点时限).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// 响应: the unit acknowledges.
    Respond,
    /// 到场: someone is on site.
    Arrive,
    /// 首次反馈: the first report back from the site.
    FirstFeedback,
    /// 制止: an illegal activity is stopped (illegal construction).
    Stop,
    /// 处罚决定: a penalty is decided.
    Penalty,
}

impl Milestone {
    pub const ALL: [Milestone; 5] = [
        Milestone::Respond,
        Milestone::Arrive,
        Milestone::FirstFeedback,
        Milestone::Stop,
        Milestone::Penalty,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Milestone::Respond => "respond",
            Milestone::Arrive => "arrive",
            Milestone::FirstFeedback => "first_feedback",
            Milestone::Stop => "stop",
            Milestone::Penalty => "penalty",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            Milestone::Respond => "响应",
            Milestone::Arrive => "到场",
            Milestone::FirstFeedback => "首次反馈",
            Milestone::Stop => "制止",
            Milestone::Penalty => "处罚决定",
        }
    }
}

/// A milestone and the time from dispatch within which it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneLimit {
    pub milestone: Milestone,
    pub within: TimeLimit,
}

/// The time limits of one severity of a category, counted from dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityLimit {
    pub severity: Severity,
    /// The time to have it handled (处置时限): the matter's deadline.
    pub limit: TimeLimit,
    /// Earlier milestones, in order, each due before `limit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<MilestoneLimit>,
}

/// A major category (大类): a heading that groups categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MajorCategory {
    pub code: MajorCode,
    pub name_zh: String,
    pub name_en: String,
}

/// A category of matters (事件分类, 小类): what is reported and dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: CategoryCode,
    pub name_zh: String,
    pub name_en: String,
    /// One entry per [`Severity`].
    pub limits: Vec<SeverityLimit>,
    /// The level expected to solve it (小事不出村、大事不出镇).
    pub level: Level,
    /// The kind of unit it is dispatched to by default.
    pub unit_kind: UnitKind,
    /// A dispute between parties: people's mediation applies.
    pub is_dispute: bool,
}

impl Category {
    pub fn major(&self) -> MajorCode {
        self.code.major()
    }

    /// The limits for a severity; every severity has them in a valid catalogue.
    pub fn limits_for(&self, severity: Severity) -> Option<&SeverityLimit> {
        self.limits.iter().find(|l| l.severity == severity)
    }

    /// The deadline for a severity, counted from dispatch.
    pub fn limit(&self, severity: Severity) -> Option<TimeLimit> {
        self.limits_for(severity).map(|l| l.limit)
    }
}

/// The whole catalogue: the major categories and their categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub majors: Vec<MajorCategory>,
    pub categories: Vec<Category>,
}

/// Why a catalogue was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("major category {0} appears more than once")]
    DuplicateMajor(MajorCode),
    #[error("category {0} appears more than once")]
    DuplicateCategory(CategoryCode),
    #[error("category {0} belongs to major category {1}, which does not exist")]
    UnknownMajor(CategoryCode, MajorCode),
    #[error("category {0} has an empty Chinese or English name")]
    EmptyName(String),
    #[error("category {0} has no time limit for severity {1}")]
    MissingSeverity(CategoryCode, Severity),
    #[error("category {0} gives severity {1} more than once")]
    DuplicateSeverity(CategoryCode, Severity),
    #[error("category {0}, severity {1}: milestones must be in order, each before the next and before the limit")]
    MilestonesOutOfOrder(CategoryCode, Severity),
    #[error("category {0}, severity {1}: milestones and limit must all be wall-clock or all working time")]
    MixedClocks(CategoryCode, Severity),
    #[error("category {0}, severity {1}: a time limit of zero")]
    ZeroLimit(CategoryCode, Severity),
    #[error("category {0}: {1} may not be given more time than {2}")]
    SeverityOutOfOrder(CategoryCode, Severity, Severity),
}

impl Catalogue {
    pub fn get(&self, code: &CategoryCode) -> Option<&Category> {
        self.categories.iter().find(|c| &c.code == code)
    }

    /// Looks a category up by its code as text; `None` for malformed or unknown codes.
    pub fn find(&self, code: &str) -> Option<&Category> {
        let code = CategoryCode::parse(code).ok()?;
        self.get(&code)
    }

    pub fn major(&self, code: &MajorCode) -> Option<&MajorCategory> {
        self.majors.iter().find(|m| &m.code == code)
    }

    /// The categories under a major category, in catalogue order.
    pub fn under<'a>(&'a self, major: &'a MajorCode) -> impl Iterator<Item = &'a Category> + 'a {
        self.categories
            .iter()
            .filter(move |c| &c.code.major() == major)
    }

    /// Checks that codes are unique, every category's major exists, names are
    /// given, every severity has a non-zero limit, milestones are in order on one clock,
    /// and a more severe level never gets more time than a less severe one.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        for (i, m) in self.majors.iter().enumerate() {
            if self.majors[..i].iter().any(|o| o.code == m.code) {
                return Err(CatalogueError::DuplicateMajor(m.code.clone()));
            }
            if m.name_zh.trim().is_empty() || m.name_en.trim().is_empty() {
                return Err(CatalogueError::EmptyName(m.code.to_string()));
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            if self.categories[..i].iter().any(|o| o.code == c.code) {
                return Err(CatalogueError::DuplicateCategory(c.code.clone()));
            }
            if self.major(&c.major()).is_none() {
                return Err(CatalogueError::UnknownMajor(c.code.clone(), c.major()));
            }
            if c.name_zh.trim().is_empty() || c.name_en.trim().is_empty() {
                return Err(CatalogueError::EmptyName(c.code.to_string()));
            }
            validate_limits(c)?;
        }
        Ok(())
    }
}

fn validate_limits(c: &Category) -> Result<(), CatalogueError> {
    for (i, l) in c.limits.iter().enumerate() {
        if c.limits[..i].iter().any(|o| o.severity == l.severity) {
            return Err(CatalogueError::DuplicateSeverity(
                c.code.clone(),
                l.severity,
            ));
        }
        if l.limit.amount() == 0 || l.milestones.iter().any(|m| m.within.amount() == 0) {
            return Err(CatalogueError::ZeroLimit(c.code.clone(), l.severity));
        }
        let wall = is_wall_clock(l.limit);
        if l.milestones.iter().any(|m| is_wall_clock(m.within) != wall) {
            return Err(CatalogueError::MixedClocks(c.code.clone(), l.severity));
        }
        let mut times: Vec<u64> = l
            .milestones
            .iter()
            .map(|m| nominal_minutes(m.within))
            .collect();
        times.push(nominal_minutes(l.limit));
        let in_order = l
            .milestones
            .windows(2)
            .all(|w| w[0].milestone < w[1].milestone)
            && times.windows(2).all(|w| w[0] < w[1]);
        if !in_order {
            return Err(CatalogueError::MilestonesOutOfOrder(
                c.code.clone(),
                l.severity,
            ));
        }
    }
    for s in Severity::ALL {
        if c.limits_for(s).is_none() {
            return Err(CatalogueError::MissingSeverity(c.code.clone(), s));
        }
    }
    // Working and wall-clock time are not comparable without the calendar,
    // so severities are ordered only within one clock.
    for (i, a) in Severity::ALL.iter().enumerate() {
        for b in &Severity::ALL[i + 1..] {
            let (la, lb) = (c.limit(*a), c.limit(*b));
            if let (Some(la), Some(lb)) = (la, lb) {
                if is_wall_clock(la) == is_wall_clock(lb)
                    && nominal_minutes(lb) > nominal_minutes(la)
                {
                    return Err(CatalogueError::SeverityOutOfOrder(c.code.clone(), *b, *a));
                }
            }
        }
    }
    Ok(())
}

/// The emergency rule of DOMAIN.md §4 (Hangzhou): respond in 1 minute, on
/// site in 8, first feedback in 60, done in 24 hours, all on the wall clock.
fn emergency() -> SeverityLimit {
    SeverityLimit {
        severity: Severity::Emergency,
        limit: TimeLimit::CalendarMinutes(24 * 60),
        milestones: vec![
            MilestoneLimit {
                milestone: Milestone::Respond,
                within: TimeLimit::CalendarMinutes(1),
            },
            MilestoneLimit {
                milestone: Milestone::Arrive,
                within: TimeLimit::CalendarMinutes(8),
            },
            MilestoneLimit {
                milestone: Milestone::FirstFeedback,
                within: TimeLimit::CalendarMinutes(60),
            },
        ],
    }
}

fn plain(severity: Severity, limit: TimeLimit) -> SeverityLimit {
    SeverityLimit {
        severity,
        limit,
        milestones: Vec::new(),
    }
}

/// The three severities: the two working-time limits given, and the emergency rule.
fn limits(normal: TimeLimit, urgent: TimeLimit) -> Vec<SeverityLimit> {
    vec![
        plain(Severity::Normal, normal),
        plain(Severity::Urgent, urgent),
        emergency(),
    ]
}

const MAJORS: &[(&str, &str, &str)] = &[
    ("01", "市容环境", "City appearance and environment"),
    ("02", "宣传广告", "Publicity and advertising"),
    ("03", "施工管理", "Construction management"),
    ("04", "街面秩序", "Street order"),
    ("05", "突发事件", "Emergencies"),
    ("06", "房屋与消防安全", "Housing and fire safety"),
    ("07", "矛盾纠纷", "Disputes"),
    ("08", "生态环境", "Pollution"),
    ("09", "食品药品安全", "Food and drug safety"),
    ("99", "其他", "Other"),
];

/// The default catalogue: 10 major categories, 39 categories.
///
/// Limits for normal and urgent severities are working time from DOMAIN.md §4
/// where it gives one (exposed garbage 4 working hours, street cleaning 2,
/// illegal construction: stop in 4 working hours, penalty in 7 working days,
/// demolition in 20; consultations 3 working days, complaints 13) and
/// comparable local practice elsewhere; every emergency runs on the wall-clock
/// milestones of §4.
pub fn default_catalogue() -> Catalogue {
    let majors = MAJORS
        .iter()
        .map(|(code, zh, en)| MajorCategory {
            code: MajorCode(code.to_string()),
            name_zh: zh.to_string(),
            name_en: en.to_string(),
        })
        .collect();
    let categories = default_rows()
        .into_iter()
        .map(
            |(code, zh, en, limits, level, unit_kind, is_dispute)| Category {
                code: CategoryCode(code.to_string()),
                name_zh: zh.to_string(),
                name_en: en.to_string(),
                limits,
                level,
                unit_kind,
                is_dispute,
            },
        )
        .collect();
    Catalogue { majors, categories }
}

/// Illegal construction is one matter with stages: stop it within 4 working
/// hours (2 when urgent), decide the penalty within 7 working days, have it
/// demolished within 20.
fn illegal_construction() -> Vec<SeverityLimit> {
    let staged = |severity, stop| SeverityLimit {
        severity,
        limit: TimeLimit::WorkingDays(20),
        milestones: vec![
            MilestoneLimit {
                milestone: Milestone::Stop,
                within: TimeLimit::WorkingHours(stop),
            },
            MilestoneLimit {
                milestone: Milestone::Penalty,
                within: TimeLimit::WorkingDays(7),
            },
        ],
    };
    vec![
        staged(Severity::Normal, 4),
        staged(Severity::Urgent, 2),
        emergency(),
    ]
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    Vec<SeverityLimit>,
    Level,
    UnitKind,
    bool,
);

/// Code, names, limits (normal, urgent; emergency is always the §4 rule),
/// handling level, unit kind, dispute.
#[rustfmt::skip]
fn default_rows() -> Vec<Row> {
    use Level::{County, Township, Village};
    use TimeLimit::{WorkingDays as D, WorkingHours as H, WorkingMinutes as M};
    use UnitKind::{CommandCentre, Department, FourPlatformOffice, MediationCommittee, VillageCommittee};
    vec![
        // 01 市容环境
        ("0101", "暴露垃圾", "Exposed garbage", limits(H(4), H(2)), Village, VillageCommittee, false),
        ("0102", "道路不洁", "Street cleaning", limits(H(2), H(1)), Township, FourPlatformOffice, false),
        ("0103", "积存垃圾渣土", "Accumulated refuse and muck", limits(D(1), H(4)), Township, FourPlatformOffice, false),
        ("0104", "乱堆物料", "Materials piled in public space", limits(D(1), H(4)), Village, VillageCommittee, false),
        // 02 宣传广告
        ("0201", "违规广告牌匾", "Unauthorised billboards and signs", limits(D(5), D(1)), Township, FourPlatformOffice, false),
        ("0202", "非法小广告", "Illegal flyers and graffiti", limits(D(2), H(4)), Village, VillageCommittee, false),
        // 03 施工管理
        ("0301", "违法建设", "Illegal construction", illegal_construction(), Township, FourPlatformOffice, false),
        ("0302", "施工占道", "Works occupying the road", limits(D(1), H(4)), Township, FourPlatformOffice, false),
        ("0303", "施工损坏道路", "Road damaged by works", limits(D(2), D(1)), County, Department, false),
        ("0304", "施工扬尘", "Dust from works", limits(D(1), H(4)), Township, FourPlatformOffice, false),
        // 04 街面秩序
        ("0401", "占道经营", "Street vending on the road", limits(H(4), H(2)), Township, FourPlatformOffice, false),
        ("0402", "违章停车", "Illegal parking", limits(H(2), H(1)), Township, Department, false),
        ("0403", "道路障碍", "Road obstruction or debris", limits(H(2), M(30)), Village, VillageCommittee, false),
        ("0404", "道路积水", "Road flooding and waterlogging", limits(H(4), H(1)), Township, Department, false),
        ("0405", "市政设施损坏", "Damaged municipal facilities", limits(D(2), H(4)), Township, Department, false),
        // 05 突发事件
        ("0501", "火灾冒烟", "Fire or smoke", limits(H(1), M(30)), County, Department, false),
        ("0502", "交通事故", "Traffic accident", limits(H(4), H(1)), County, Department, false),
        ("0503", "人员走失", "Missing elderly person or child", limits(H(2), M(30)), Township, CommandCentre, false),
        ("0504", "自然灾害险情", "Natural hazard (landslide, flood)", limits(H(4), H(1)), County, Department, false),
        ("0505", "群体性事件苗头", "Signs of a mass incident", limits(H(4), H(1)), Township, CommandCentre, false),
        // 06 房屋与消防安全
        ("0601", "危房", "Dangerous house", limits(D(3), H(4)), Village, VillageCommittee, false),
        ("0602", "房屋沉降开裂", "House subsidence or cracks", limits(D(2), H(4)), Village, VillageCommittee, false),
        ("0603", "出租房消防隐患", "Rental fire hazard", limits(D(3), H(4)), Township, FourPlatformOffice, false),
        ("0604", "电动车违规充电", "E-bike charging hazard", limits(D(1), H(2)), Village, VillageCommittee, false),
        ("0605", "消防通道堵塞", "Blocked fire escape", limits(H(4), H(1)), Township, FourPlatformOffice, false),
        // 07 矛盾纠纷
        ("0701", "邻里纠纷", "Neighbour dispute", limits(D(7), D(2)), Village, MediationCommittee, true),
        ("0702", "婚姻家庭纠纷", "Family dispute", limits(D(7), D(2)), Village, MediationCommittee, true),
        ("0703", "劳资纠纷", "Wage arrears", limits(D(10), D(3)), Township, MediationCommittee, true),
        ("0704", "土地纠纷", "Land dispute", limits(D(13), D(5)), Township, MediationCommittee, true),
        ("0705", "物业纠纷", "Property-management dispute", limits(D(10), D(3)), Village, MediationCommittee, true),
        ("0706", "消费纠纷", "Consumer dispute", limits(D(7), D(2)), Township, Department, true),
        // 08 生态环境
        ("0801", "水污染", "Water pollution", limits(D(3), H(4)), County, Department, false),
        ("0802", "大气污染", "Air pollution", limits(D(2), H(4)), County, Department, false),
        ("0803", "噪声污染", "Noise", limits(D(1), H(2)), Township, FourPlatformOffice, false),
        // 09 食品药品安全
        ("0901", "食品安全", "Food safety", limits(D(3), H(4)), County, Department, false),
        ("0902", "药品安全", "Drug safety", limits(D(3), H(4)), County, Department, false),
        // 99 其他
        ("9901", "咨询求助", "Consultation or request for help", limits(D(3), D(1)), Township, CommandCentre, false),
        ("9902", "投诉建议", "Complaint or suggestion", limits(D(13), D(5)), County, CommandCentre, false),
        ("9999", "其他事项", "Other matter", limits(D(5), D(1)), Township, CommandCentre, false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_is_valid() {
        let cat = default_catalogue();
        cat.validate().unwrap();
        assert!(
            (30..=40).contains(&cat.categories.len()),
            "{}",
            cat.categories.len()
        );
        for m in &cat.majors {
            assert!(
                cat.under(&m.code).next().is_some(),
                "major {} is empty",
                m.code
            );
        }
        for c in &cat.categories {
            for s in Severity::ALL {
                assert!(c.limit(s).is_some(), "{} has no {s} limit", c.code);
            }
            assert!(matches!(
                c.level,
                Level::Village | Level::Township | Level::County
            ));
            // Disputes go to mediation unless a department settles them.
            if c.is_dispute {
                assert!(matches!(
                    c.unit_kind,
                    UnitKind::MediationCommittee | UnitKind::Department
                ));
            }
        }
        // The urban-management classes of DOMAIN.md §2 are all there.
        for name in [
            "市容环境",
            "宣传广告",
            "施工管理",
            "街面秩序",
            "突发事件",
            "其他",
        ] {
            assert!(cat.majors.iter().any(|m| m.name_zh == name), "{name}");
        }
    }

    /// The code of the category an example falls into, by its English name.
    fn code_of(cat: &Catalogue, name_en: &str) -> CategoryCode {
        cat.categories
            .iter()
            .find(|c| c.name_en == name_en)
            .unwrap_or_else(|| panic!("no category {name_en:?}"))
            .code
            .clone()
    }

    #[test]
    fn every_domain_example_has_a_category() {
        let cat = default_catalogue();
        // DOMAIN.md §3 examples and the list.
        let examples = [
            ("a sinking house (001)", "House subsidence or cracks"),
            ("dangerous house", "Dangerous house"),
            ("glass on a road (003)", "Road obstruction or debris"),
            ("road flooding", "Road flooding and waterlogging"),
            ("land measured short (001)", "Land dispute"),
            ("wage arrears (000)", "Wage arrears"),
            ("road damage from works (004)", "Road damaged by works"),
            ("a lost child (001)", "Missing elderly person or child"),
            ("fire in a restaurant (001)", "Fire or smoke"),
            ("neighbour dispute", "Neighbour dispute"),
            ("rental fire hazard", "Rental fire hazard"),
            ("illegal construction", "Illegal construction"),
            ("water pollution", "Water pollution"),
            ("air pollution", "Air pollution"),
            ("noise", "Noise"),
            ("food safety", "Food safety"),
            ("drug safety", "Drug safety"),
            ("traffic accident", "Traffic accident"),
            ("e-bike charging", "E-bike charging hazard"),
            ("exposed garbage", "Exposed garbage"),
            ("street cleaning", "Street cleaning"),
            ("consultation", "Consultation or request for help"),
            ("complaint", "Complaint or suggestion"),
        ];
        for (example, name) in examples {
            let code = code_of(&cat, name);
            assert!(cat.get(&code).is_some(), "{example}");
        }
        let get = |name: &str| cat.get(&code_of(&cat, name)).unwrap().clone();

        // §3: glass cleaned 30 minutes after the report fits the urgent limit.
        assert_eq!(
            get("Road obstruction or debris").limit(Severity::Urgent),
            Some(TimeLimit::WorkingMinutes(30))
        );
        // §3: disputes are mediated; wage arrears by the township.
        for name in ["Wage arrears", "Land dispute", "Neighbour dispute"] {
            assert!(get(name).is_dispute, "{name}");
        }
        assert_eq!(get("Wage arrears").level, Level::Township);
        assert_eq!(get("Wage arrears").unit_kind, UnitKind::MediationCommittee);
        assert!(!get("Fire or smoke").is_dispute);
        // §3: a sinking house repaired by the village team the same day.
        assert_eq!(get("House subsidence or cracks").level, Level::Village);
        // §3: road damage from works fixed in two days.
        assert_eq!(
            get("Road damaged by works").limit(Severity::Normal),
            Some(TimeLimit::WorkingDays(2))
        );

        // §4 time limits.
        let n = Severity::Normal;
        assert_eq!(
            get("Exposed garbage").limit(n),
            Some(TimeLimit::WorkingHours(4))
        );
        assert_eq!(
            get("Street cleaning").limit(n),
            Some(TimeLimit::WorkingHours(2))
        );
        let illegal = get("Illegal construction");
        let normal = illegal.limits_for(n).unwrap();
        assert_eq!(normal.limit, TimeLimit::WorkingDays(20));
        assert_eq!(
            normal.milestones,
            [
                MilestoneLimit {
                    milestone: Milestone::Stop,
                    within: TimeLimit::WorkingHours(4)
                },
                MilestoneLimit {
                    milestone: Milestone::Penalty,
                    within: TimeLimit::WorkingDays(7)
                },
            ]
        );
        assert_eq!(
            get("Consultation or request for help").limit(n),
            Some(TimeLimit::WorkingDays(3))
        );
        assert_eq!(
            get("Complaint or suggestion").limit(n),
            Some(TimeLimit::WorkingDays(13))
        );
        for c in &cat.categories {
            let e = c.limits_for(Severity::Emergency).unwrap();
            assert_eq!(e.limit, TimeLimit::CalendarMinutes(1440), "{}", c.code);
            let ms: Vec<_> = e
                .milestones
                .iter()
                .map(|m| (m.milestone, m.within))
                .collect();
            assert_eq!(
                ms,
                [
                    (Milestone::Respond, TimeLimit::CalendarMinutes(1)),
                    (Milestone::Arrive, TimeLimit::CalendarMinutes(8)),
                    (Milestone::FirstFeedback, TimeLimit::CalendarMinutes(60)),
                ]
            );
        }
    }

    #[test]
    fn codes_parse_strictly() {
        let c = CategoryCode::parse("0403").unwrap();
        assert_eq!(c.major().as_str(), "04");
        assert!(matches!(
            CategoryCode::parse("04a3"),
            Err(CodeError::NotDigits(_))
        ));
        assert!(matches!(
            CategoryCode::parse("040"),
            Err(CodeError::WrongLength { .. })
        ));
        assert!(matches!(
            CategoryCode::parse("0400"),
            Err(CodeError::Malformed(_))
        ));
        assert!(matches!(
            CategoryCode::parse("0004"),
            Err(CodeError::Malformed(_))
        ));
        assert!(MajorCode::parse("00").is_err());
        assert!(MajorCode::parse("123").is_err());
        let cat = default_catalogue();
        assert_eq!(cat.find("0403").unwrap().name_zh, "道路障碍");
        assert!(cat.find("0499").is_none());
        assert!(cat.find("nope").is_none());
        assert_eq!(cat.major(&c.major()).unwrap().name_zh, "街面秩序");
    }

    #[test]
    fn broken_catalogues_are_refused() {
        let base = default_catalogue();
        let code = |s: &str| CategoryCode::parse(s).unwrap();

        let mut dup = base.clone();
        dup.categories.push(dup.categories[0].clone());
        assert!(matches!(
            dup.validate(),
            Err(CatalogueError::DuplicateCategory(_))
        ));

        let mut dup_major = base.clone();
        dup_major.majors.push(dup_major.majors[0].clone());
        assert!(matches!(
            dup_major.validate(),
            Err(CatalogueError::DuplicateMajor(_))
        ));

        let mut orphan = base.clone();
        orphan.categories[0].code = code("5501");
        assert!(matches!(
            orphan.validate(),
            Err(CatalogueError::UnknownMajor(..))
        ));

        let mut missing = base.clone();
        missing.categories[0]
            .limits
            .retain(|l| l.severity != Severity::Urgent);
        assert_eq!(
            missing.validate(),
            Err(CatalogueError::MissingSeverity(
                code("0101"),
                Severity::Urgent
            ))
        );

        let mut twice = base.clone();
        let extra = twice.categories[0].limits[0].clone();
        twice.categories[0].limits.push(extra);
        assert!(matches!(
            twice.validate(),
            Err(CatalogueError::DuplicateSeverity(..))
        ));

        let mut late = base.clone();
        late.categories[0].limits[2].milestones[0].within = TimeLimit::CalendarMinutes(2000);
        assert!(matches!(
            late.validate(),
            Err(CatalogueError::MilestonesOutOfOrder(..))
        ));

        let mut mixed = base.clone();
        mixed.categories[0].limits[2].milestones[0].within = TimeLimit::WorkingMinutes(1);
        assert!(matches!(
            mixed.validate(),
            Err(CatalogueError::MixedClocks(..))
        ));

        let mut slower = base.clone();
        slower.categories[0].limits[1].limit = TimeLimit::WorkingDays(30);
        assert!(matches!(
            slower.validate(),
            Err(CatalogueError::SeverityOutOfOrder(..))
        ));

        let mut zero = base.clone();
        zero.categories[0].limits[0].limit = TimeLimit::WorkingHours(0);
        assert!(matches!(
            zero.validate(),
            Err(CatalogueError::ZeroLimit(..))
        ));

        let mut unnamed = base;
        unnamed.categories[0].name_en = " ".into();
        assert!(matches!(
            unnamed.validate(),
            Err(CatalogueError::EmptyName(_))
        ));
    }
}
