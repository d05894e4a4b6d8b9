//! The escalation engine's rules, clock-free: which level a step goes to (the next one, back to level 1
//! while loops remain, then exhaustion), skipping levels where nobody is on call, and the round-robin
//! choice of a level's targets given the rule's durable pointer.
//!
//! The levels themselves are resolved by the caller at the instant of the change (users directly,
//! schedules through who is on call then): a level is the list of users its targets give, in target
//! order, possibly empty (nobody on call). The command layer (`crate::command`) calls these functions;
//! it alone changes incident state.

/// One rule (level) of an escalation policy, as the engine reads it when a step runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub delay_minutes: i64,
    /// `escalation_rule_assignment_strategy: round_robin`: one target per turn.
    pub round_robin: bool,
    /// The round-robin pointer: the index of the next target to assign (modulo the targets).
    pub pointer: i64,
}

/// A policy's escalation path: its rules in order (parallel to the resolved levels) and `num_loops`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path {
    pub num_loops: i32,
    pub rules: Vec<Rule>,
}

impl Path {
    /// The delay of `level` (a level past the end is the last one), in milliseconds.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        let i = usize::try_from(clamp(level, self.rules.len()) - 1).ok()?;
        self.rules.get(i).map(|r| r.delay_minutes.max(0).saturating_mul(60_000))
    }
}

/// `level` within `1..=levels` (a level that no longer exists is the last one).
pub fn clamp(level: i32, levels: usize) -> i32 {
    let n = i32::try_from(levels).unwrap_or(i32::MAX);
    level.clamp(1, n.max(1))
}

/// Where a step goes from `level` after `loops` loops back to level 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    To {
        level: i32,
        loops: i32,
        repeated: bool,
    },
    /// The last level of the last loop: the incident stays with its assignees.
    Exhausted,
}

/// The next step (see [`Step`]); a policy without levels is exhausted.
pub fn next(level: i32, loops: i32, levels: usize, num_loops: i32) -> Step {
    if levels == 0 || loops > num_loops {
        return Step::Exhausted;
    }
    let level = clamp(level, levels);
    if usize::try_from(level).unwrap_or(usize::MAX) < levels {
        Step::To { level: level + 1, loops, repeated: false }
    } else if loops < num_loops {
        Step::To { level: 1, loops: loops + 1, repeated: true }
    } else {
        Step::Exhausted
    }
}

/// Whether the path is exhausted (`loops` past `num_loops`, the marker a finished path keeps).
pub fn exhausted(loops: i32, num_loops: i32) -> bool {
    loops > num_loops
}

/// The users a level assigns: everyone, or under round robin the pointer's one, with the rule's next
/// pointer `(rule id, pointer)`.
pub fn choose(users: &[String], rule: Option<&Rule>) -> (Vec<String>, Option<(String, i64)>) {
    match rule {
        Some(r) if r.round_robin && !users.is_empty() => {
            let n = users.len() as i64;
            let i = r.pointer.rem_euclid(n);
            let user = users.get(usize::try_from(i).unwrap_or(0)).cloned().unwrap_or_default();
            (vec![user], Some((r.id.clone(), (i + 1) % n)))
        }
        _ => (users.to_vec(), None),
    }
}

/// Where entering a level lands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landing {
    pub level: i32,
    pub loops: i32,
    /// Empty: nobody is on call at any level tried.
    pub users: Vec<String>,
    /// Levels skipped because nobody was on call, in order.
    pub skipped: Vec<i32>,
    /// How many times the walk looped back to level 1 while skipping.
    pub repeated: u32,
    pub advance: Option<(String, i64)>,
}

/// Enters `level` (after `loops` loops): the first level from there, in escalation order, where someone
/// is on call, trying each level at most once. When nobody is on call anywhere the landing keeps `level`
/// and has no users.
pub fn land(levels: &[Vec<String>], path: &Path, level: i32, loops: i32) -> Landing {
    let start = clamp(level, levels.len());
    let (mut at, mut at_loops, mut skipped, mut repeated) = (start, loops, Vec::new(), 0);
    for _ in 0..levels.len() {
        let i = usize::try_from(at - 1).unwrap_or(0);
        let users = levels.get(i).map(Vec::as_slice).unwrap_or_default();
        let (users, advance) = choose(users, path.rules.get(i));
        if !users.is_empty() {
            return Landing { level: at, loops: at_loops, users, skipped, repeated, advance };
        }
        skipped.push(at);
        match next(at, at_loops, levels.len(), path.num_loops) {
            Step::To { level, loops, repeated: r } => {
                at = level;
                at_loops = loops;
                repeated += u32::from(r);
            }
            Step::Exhausted => break,
        }
    }
    Landing { level: start, loops, users: Vec::new(), skipped, repeated: 0, advance: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn path(n: usize, num_loops: i32) -> Path {
        Path {
            num_loops,
            rules: (0..n).map(|i| Rule { id: format!("R{i}"), delay_minutes: 5, ..Rule::default() }).collect(),
        }
    }

    #[test]
    fn steps_go_down_the_levels_then_loop_then_exhaust() {
        assert_eq!(next(1, 0, 2, 1), Step::To { level: 2, loops: 0, repeated: false });
        assert_eq!(next(2, 0, 2, 1), Step::To { level: 1, loops: 1, repeated: true });
        assert_eq!(next(2, 1, 2, 1), Step::Exhausted);
        assert_eq!(next(1, 0, 1, 0), Step::Exhausted);
        assert_eq!(next(1, 0, 0, 3), Step::Exhausted);
        assert!(exhausted(2, 1));
    }

    #[test]
    fn a_level_that_no_longer_exists_is_the_last_one() {
        assert_eq!(clamp(5, 2), 2);
        assert_eq!(next(5, 0, 2, 0), Step::Exhausted);
        assert_eq!(path(2, 0).delay_ms(7), Some(300_000));
    }

    #[test]
    fn round_robin_rotates_with_the_pointer() {
        let rule = Rule { id: "R".into(), delay_minutes: 1, round_robin: true, pointer: 4 };
        assert_eq!(choose(&users(&["a", "b", "c"]), Some(&rule)), (users(&["b"]), Some(("R".into(), 2))));
        let everyone = Rule { round_robin: false, ..rule };
        assert_eq!(choose(&users(&["a", "b"]), Some(&everyone)), (users(&["a", "b"]), None));
    }

    #[test]
    fn empty_levels_are_skipped_and_nobody_is_reported() {
        let levels = vec![vec![], users(&["b"])];
        let landing = land(&levels, &path(2, 0), 1, 0);
        assert_eq!((landing.level, landing.users.clone(), landing.skipped.clone()), (2, users(&["b"]), vec![1]));
        let levels = vec![users(&["a"]), vec![]];
        let landing = land(&levels, &path(2, 1), 2, 0);
        assert_eq!((landing.level, landing.loops, landing.repeated), (1, 1, 1));
        let nobody = land(&[vec![], vec![]], &path(2, 0), 1, 0);
        assert!(nobody.users.is_empty());
        assert_eq!((nobody.level, nobody.skipped), (1, vec![1, 2]));
    }
}
