//! Who a caller is to a matter (事件), and where a matter is held.
use crate::workflow::Actor;
use crate::{Role, Scope};

/// What the service layer knows of a caller's relation to one matter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The caller filed the report.
    pub is_reporter: bool,
    /// The caller works at the centre holding the matter: their scope is the holder's region.
    pub at_holding_centre: bool,
    /// The caller's scope strictly contains the holder's region.
    pub above_holding_centre: bool,
    /// The caller's unit is the one the matter is dispatched to.
    pub in_assigned_unit: bool,
    /// The caller's scope covers the matter's grid (grid workers and chiefs).
    pub on_site: bool,
    /// The caller ends the mediation case the matter waits on: set only by
    /// the case service, never from codes and ids.
    pub ends_case: bool,
}

impl Relation {
    /// Works out the relation from codes and ids.
    pub fn of(
        caller_id: i64,
        caller_scope: &Scope,
        caller_unit: Option<i64>,
        reporter_id: Option<i64>,
        holder: &str,
        assigned_unit: Option<i64>,
        grid_code: &str,
    ) -> Relation {
        let prefix = caller_scope.prefix();
        Relation {
            is_reporter: reporter_id == Some(caller_id),
            at_holding_centre: prefix == holder,
            above_holding_centre: holder.starts_with(prefix) && prefix.len() < holder.len(),
            in_assigned_unit: caller_unit.is_some() && caller_unit == assigned_unit,
            on_site: caller_scope.covers(grid_code) && prefix.len() >= 12,
            ends_case: false,
        }
    }
}

/// The actors a caller with `role` stands in for this matter: the role's
/// possible actors, kept only where the relation holds.
pub fn actors(role: Role, rel: &Relation) -> Vec<Actor> {
    Actor::for_role(role)
        .iter()
        .copied()
        .filter(|a| match a {
            Actor::Reporter => rel.is_reporter,
            Actor::CentreOperator => rel.at_holding_centre,
            Actor::AssignedUnit => rel.in_assigned_unit,
            Actor::HigherLevel => rel.above_holding_centre,
            Actor::GridWorkerOnSite => rel.on_site,
            Actor::System => false,
            Actor::Mediation => rel.ends_case,
        })
        .collect()
}

/// The intake channel (来源渠道) a report comes through, by the reporter's role.
pub fn channel_of(role: Role) -> &'static str {
    match role {
        Role::GridWorker | Role::GridChief => "grid_worker",
        Role::CentreOperator => "hotline",
        Role::DepartmentHandler => "department",
        Role::Leader | Role::Admin => "higher_level",
        Role::Citizen | Role::Landlord | Role::Mediator => "citizen",
    }
}

/// Channels a centre operator may name when filing on someone's behalf:
/// the hotline (12345 and the like) or the video patrol (视频巡查).
pub const OPERATOR_CHANNELS: [&str; 2] = ["hotline", "video_patrol"];

/// The channel of a report: the reporter's own, or for a centre operator the
/// one they name. `None` when the named channel is not theirs to name.
pub fn channel_for(role: Role, named: Option<&str>) -> Option<&'static str> {
    match named {
        None => Some(channel_of(role)),
        Some(name) if role == Role::CentreOperator => {
            OPERATOR_CHANNELS.into_iter().find(|c| *c == name)
        }
        Some(name) => (name == channel_of(role)).then(|| channel_of(role)),
    }
}

/// Whether the centre holding matters for `holder` may dispatch to a unit of
/// the region `unit_prefix`: within its own line, to units of its region or
/// below, or to the departments above it.
pub fn may_dispatch_to(holder: &str, unit_prefix: &str) -> bool {
    !unit_prefix.is_empty() && (unit_prefix.starts_with(holder) || holder.starts_with(unit_prefix))
}

/// The centre that first holds a matter: the township of its grid
/// (小事不出村、大事不出镇 — the township centre reviews what grids report).
pub fn initial_holder(grid_code: &str) -> &str {
    &grid_code[..9.min(grid_code.len())]
}

/// One level up from a holder: township → county → city → province.
pub fn holder_above(holder: &str) -> Option<&str> {
    match holder.len() {
        9 => Some(&holder[..6]),
        6 => Some(&holder[..4]),
        4 => Some(&holder[..2]),
        _ => None,
    }
}

/// Characters of tracking codes: no 0/O, 1/I/L, so they read out over the phone.
pub const TRACKING_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const TRACKING_LEN: usize = 10;

/// Whether a text can be a tracking code at all (checked before any lookup).
pub fn is_tracking_code(code: &str) -> bool {
    code.len() == TRACKING_LEN && code.bytes().all(|b| TRACKING_ALPHABET.contains(&b))
}

/// Possible duplicates (疑似重复): the same category within this distance …
pub const DUPLICATE_RADIUS_M: f64 = 250.0;
/// … and this time of each other.
pub const DUPLICATE_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The great-circle distance in metres between two WGS-84 points (haversine;
/// within a metre of the ellipsoid at the few hundred metres compared here).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lng1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lng2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lng2 - lng1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// A box around a point holding every point within `radius_m` of it, for a
/// coarse query before [`distance_m`]: `[west, south, east, north]`.
pub fn box_around(point: (f64, f64), radius_m: f64) -> [f64; 4] {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    // Widen by the cosine of the latitude nearer the pole.
    let lat_pole = point.1.abs() + dlat;
    let dlng = dlat / lat_pole.to_radians().cos().max(1e-6);
    [
        point.0 - dlng,
        point.1 - dlat,
        point.0 + dlng,
        point.1 + dlat,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_known_values_and_boxes_hold_the_circle() {
        // One degree of latitude is about 111.2 km; one of longitude at 30°N about 96.3 km.
        assert!((distance_m((120.0, 30.0), (120.0, 31.0)) - 111_195.0).abs() < 10.0);
        assert!((distance_m((120.0, 30.0), (121.0, 30.0)) - 96_297.0).abs() < 50.0);
        assert_eq!(distance_m((120.2, 30.2), (120.2, 30.2)), 0.0);
        let centre = (120.25, 29.71);
        let [w, s, e, n] = box_around(centre, DUPLICATE_RADIUS_M);
        for i in 0..360 {
            let t = f64::from(i).to_radians();
            // A point just inside the radius in every direction lies inside the box.
            let (dx, dy) = (t.cos() * 249.0, t.sin() * 249.0);
            let p = (
                centre.0 + (dx / (EARTH_RADIUS_M * centre.1.to_radians().cos())).to_degrees(),
                centre.1 + (dy / EARTH_RADIUS_M).to_degrees(),
            );
            assert!(distance_m(centre, p) < DUPLICATE_RADIUS_M);
            assert!(
                p.0 >= w && p.0 <= e && p.1 >= s && p.1 <= n,
                "{p:?} outside"
            );
        }
    }

    #[test]
    fn operators_name_their_channel_others_keep_theirs() {
        assert_eq!(channel_for(Role::CentreOperator, None), Some("hotline"));
        assert_eq!(
            channel_for(Role::CentreOperator, Some("video_patrol")),
            Some("video_patrol")
        );
        assert_eq!(channel_for(Role::CentreOperator, Some("citizen")), None);
        assert_eq!(
            channel_for(Role::GridWorker, Some("grid_worker")),
            Some("grid_worker")
        );
        assert_eq!(channel_for(Role::Citizen, Some("video_patrol")), None);
        assert_eq!(channel_for(Role::Leader, None), Some("higher_level"));
    }

    #[test]
    fn relations_select_actors() {
        let township = Scope::parse("330102001").unwrap();
        let county = Scope::parse("330102").unwrap();
        let grid = Scope::parse("330102001001001").unwrap();
        let g = "330102001001001";
        let op = Relation::of(5, &township, Some(1), Some(9), "330102001", None, g);
        assert_eq!(actors(Role::CentreOperator, &op), [Actor::CentreOperator]);
        let lead = Relation::of(6, &county, None, Some(9), "330102001", None, g);
        assert_eq!(actors(Role::Leader, &lead), [Actor::HigherLevel]);
        let worker = Relation::of(9, &grid, None, Some(9), "330102001", None, g);
        assert_eq!(
            actors(Role::GridWorker, &worker),
            [Actor::Reporter, Actor::GridWorkerOnSite]
        );
        let handler = Relation::of(7, &county, Some(3), Some(9), "330102001", Some(3), g);
        assert_eq!(
            actors(Role::DepartmentHandler, &handler),
            [Actor::AssignedUnit]
        );
        // A township operator is not at the centre holding a matter sent up to the county.
        let op_after_up = Relation::of(5, &township, Some(1), Some(9), "330102", None, g);
        assert!(actors(Role::CentreOperator, &op_after_up).is_empty());
    }

    #[test]
    fn dispatch_stays_within_the_line() {
        assert!(may_dispatch_to("330102001", "330102001"));
        assert!(
            may_dispatch_to("330102001", "330102001001"),
            "a village below"
        );
        assert!(
            may_dispatch_to("330102001", "330102"),
            "the county's departments"
        );
        assert!(
            !may_dispatch_to("330102001", "330102002"),
            "not a neighbour"
        );
        assert!(!may_dispatch_to("330102001", ""));
    }

    #[test]
    fn holders_step_up_and_codes_check() {
        assert_eq!(initial_holder("330102001001001"), "330102001");
        assert_eq!(holder_above("330102001"), Some("330102"));
        assert_eq!(holder_above("330102"), Some("3301"));
        assert_eq!(holder_above("33"), None);
        assert!(is_tracking_code("K7M2P9Q4RX"));
        assert!(!is_tracking_code("K7M2P9Q4R0"));
        assert!(!is_tracking_code("K7M2"));
    }
}

/// Scheduling policy (督办): what the scheduler owes a matter.
pub mod schedule {
    use serde::{Deserialize, Serialize};

    use crate::calendar::TimeLimit;
    use crate::category::Milestone;
    use crate::workflow::State;

    /// A milestone of a dispatched matter (节点): when it is due, when it was
    /// reached, and whether the scheduler already called it late.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MilestoneState {
        pub milestone: Milestone,
        /// Milliseconds since the Unix epoch (UTC).
        pub due: i64,
        pub done_at: Option<i64>,
        #[serde(default)]
        pub late: bool,
    }

    /// When the scheduler must next look at the milestones: the earliest
    /// one neither reached nor already called late.
    pub fn milestone_wake(milestones: &[MilestoneState]) -> Option<i64> {
        milestones
            .iter()
            .filter(|m| m.done_at.is_none() && !m.late)
            .map(|m| m.due)
            .min()
    }

    /// The first milestone past due at `now`, not reached and not yet called late.
    pub fn late_milestone(milestones: &[MilestoneState], now: i64) -> Option<usize> {
        milestones
            .iter()
            .position(|m| m.done_at.is_none() && !m.late && m.due <= now)
    }

    /// Marks a milestone reached at `at` (once); answers whether it changed.
    pub fn reach(milestones: &mut [MilestoneState], which: Milestone, at: i64) -> bool {
        match milestones
            .iter_mut()
            .find(|m| m.milestone == which && m.done_at.is_none())
        {
            Some(m) => {
                m.done_at = Some(at);
                true
            }
            None => false,
        }
    }

    /// A centre registers a new report within this time, else it goes up a level.
    pub const REGISTRATION_LIMIT: TimeLimit = TimeLimit::WorkingHours(2);

    /// The reminder comes when three quarters of the allowed time have passed.
    pub fn reminder_at(dispatched_at: i64, deadline: i64) -> i64 {
        dispatched_at + (deadline - dispatched_at).max(0) * 3 / 4
    }

    /// States in which the handling deadline runs.
    pub fn deadline_runs(state: State) -> bool {
        matches!(state, State::Dispatched | State::Accepted | State::Rework)
    }

    /// What is due for a matter at `now`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Due {
        /// Still unregistered past the registration limit: escalate.
        Unregistered,
        /// The deadline is near: remind.
        Remind,
        /// The deadline has passed: mark overdue and escalate.
        Overdue,
        /// A milestone passed unreached: remind (once per milestone).
        Milestone,
        /// Nothing any more (the state moved on): clear the schedule.
        Nothing,
    }

    pub fn what_is_due(state: State, now: i64, deadline: Option<i64>, overdue: bool) -> Due {
        match (state, deadline) {
            (State::Reported | State::Reopened, _) => Due::Unregistered,
            (s, Some(d)) if deadline_runs(s) && !overdue => {
                if now >= d {
                    Due::Overdue
                } else {
                    Due::Remind
                }
            }
            _ => Due::Nothing,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn milestones_wake_once_each_until_reached() {
            let mut ms = vec![
                MilestoneState {
                    milestone: Milestone::Respond,
                    due: 100,
                    done_at: None,
                    late: false,
                },
                MilestoneState {
                    milestone: Milestone::Arrive,
                    due: 300,
                    done_at: None,
                    late: false,
                },
            ];
            assert_eq!(milestone_wake(&ms), Some(100));
            assert_eq!(late_milestone(&ms, 99), None);
            assert_eq!(late_milestone(&ms, 150), Some(0));
            ms[0].late = true;
            assert_eq!(milestone_wake(&ms), Some(300));
            assert!(reach(&mut ms, Milestone::Arrive, 200));
            assert!(!reach(&mut ms, Milestone::Arrive, 250), "reached once");
            assert_eq!(milestone_wake(&ms), None);
            assert_eq!(late_milestone(&ms, 1_000), None);
        }

        #[test]
        fn policy() {
            assert_eq!(reminder_at(0, 100), 75);
            assert_eq!(
                what_is_due(State::Reported, 5, None, false),
                Due::Unregistered
            );
            assert_eq!(
                what_is_due(State::Dispatched, 5, Some(10), false),
                Due::Remind
            );
            assert_eq!(
                what_is_due(State::Accepted, 10, Some(10), false),
                Due::Overdue
            );
            assert_eq!(
                what_is_due(State::Accepted, 11, Some(10), true),
                Due::Nothing
            );
            assert_eq!(
                what_is_due(State::Handled, 11, Some(10), false),
                Due::Nothing
            );
        }
    }
}
