//! Maturity ratings: the rating systems a catalog uses, each an order of
//! ratings from youngest to oldest audience, and the one policy every
//! surface applies (a title above a profile's limit is absent).
//!
//! Ratings of different systems compare by the youngest age each is meant
//! for ([`Rating::min_age`]): a kids profile's limit is the youngest band
//! ([`KIDS_MAX_AGE`]), so `G`, `TV-Y`, `TV-Y7` and `TV-G` pass and `PG` does
//! not. An operator may add a system of their own (`OperatorSystem`), with
//! its ratings and ages.

use serde::{Deserialize, Serialize};

/// The oldest "youngest age" a kids profile sees: titles for every age and
/// for children from 7.
pub const KIDS_MAX_AGE: u8 = 7;

/// A rating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// The Motion Picture Association's film ratings (US).
    Mpaa,
    /// The TV Parental Guidelines (US).
    Tv,
    /// Defined by the operator in the configuration.
    Operator,
}

impl System {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Mpaa => "mpaa",
            System::Tv => "tv",
            System::Operator => "operator",
        }
    }

    /// The stored name back.
    pub fn parse(s: &str) -> Option<System> {
        Some(match s {
            "mpaa" => System::Mpaa,
            "tv" => System::Tv,
            "operator" => System::Operator,
            _ => return None,
        })
    }
}

/// The MPA's ratings, youngest first, with the youngest age each admits
/// unaccompanied or is recommended for.
pub const MPAA: &[(&str, u8)] = &[("G", 0), ("PG", 8), ("PG-13", 13), ("R", 17), ("NC-17", 18)];

/// The TV Parental Guidelines, youngest first.
pub const TV: &[(&str, u8)] = &[
    ("TV-Y", 0),
    ("TV-G", 0),
    ("TV-Y7", 7),
    ("TV-PG", 10),
    ("TV-14", 14),
    ("TV-MA", 17),
];

/// A rating of a known system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// Its system.
    pub system: System,
    /// The rating as the system spells it (`PG-13`, `TV-MA`).
    pub code: String,
    /// The youngest age it is meant for.
    pub min_age: u8,
}

/// An operator's own rating system: ratings youngest first, each with the
/// youngest age it is meant for (ages never decrease).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSystem {
    /// `(code, min_age)`, youngest first.
    pub ratings: Vec<(String, u8)>,
}

impl OperatorSystem {
    /// Checks that codes are unique and ages never decrease.
    pub fn check(&self) -> Result<(), crate::DomainError> {
        let mut last = 0u8;
        for (i, (code, age)) in self.ratings.iter().enumerate() {
            if code.trim().is_empty() {
                return Err(crate::DomainError::invalid(
                    "ratings",
                    "a rating has no name",
                ));
            }
            if *age < last {
                return Err(crate::DomainError::invalid(
                    "ratings",
                    format!("{code} (age {age}) is listed after a rating for age {last}: list them youngest first"),
                ));
            }
            if self.ratings[..i]
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(code))
            {
                return Err(crate::DomainError::invalid(
                    "ratings",
                    format!("{code} is listed twice"),
                ));
            }
            last = *age;
        }
        Ok(())
    }
}

/// Reads a rating as catalogs spell it: `PG-13`, `Rated PG-13`, `US:PG-13`,
/// `us:tv-ma`, `TV-MA`, `NR` (not rated: `None`). The operator's system is
/// tried first, so an operator may also re-age a standard code.
pub fn parse(raw: &str, operator: &OperatorSystem) -> Option<Rating> {
    let mut s = raw.trim();
    if let Some((country, rest)) = s.split_once(':') {
        if country.len() <= 3 && country.chars().all(|c| c.is_ascii_alphabetic()) {
            s = rest.trim();
        }
    }
    for prefix in ["Rated ", "rated ", "RATED "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.trim();
        }
    }
    // "PG-13 for violence" → "PG-13".
    let code = s.split_whitespace().next().unwrap_or("");
    if let Some((c, age)) = operator
        .ratings
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code) || c.eq_ignore_ascii_case(s))
    {
        return Some(Rating {
            system: System::Operator,
            code: c.clone(),
            min_age: *age,
        });
    }
    let norm = code.to_ascii_uppercase().replace(['_', ' '], "-");
    let norm = match norm.as_str() {
        "PG13" => "PG-13".to_owned(),
        "NC17" => "NC-17".to_owned(),
        "TVMA" | "TV-M" => "TV-MA".to_owned(),
        "TV14" => "TV-14".to_owned(),
        "TVPG" => "TV-PG".to_owned(),
        "TVY7" | "TV-Y7-FV" => "TV-Y7".to_owned(),
        "TVY" => "TV-Y".to_owned(),
        "TVG" => "TV-G".to_owned(),
        _ => norm,
    };
    for (system, table) in [(System::Mpaa, MPAA), (System::Tv, TV)] {
        if let Some((c, age)) = table.iter().find(|(c, _)| *c == norm) {
            return Some(Rating {
                system,
                code: (*c).to_owned(),
                min_age: *age,
            });
        }
    }
    None
}

/// A profile's limit: the oldest "youngest age" it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// `None`: no limit.
    pub max_age: Option<u8>,
}

impl Limit {
    /// No limit (an adult profile).
    pub const NONE: Limit = Limit { max_age: None };

    /// A kids profile's limit: the youngest band.
    pub const KIDS: Limit = Limit {
        max_age: Some(KIDS_MAX_AGE),
    };

    /// The limit of a profile.
    pub fn for_profile(is_kids: bool) -> Limit {
        if is_kids {
            Limit::KIDS
        } else {
            Limit::NONE
        }
    }

    /// The policy: whether a title with this rating's youngest age (`None`:
    /// not rated) may be shown. An unrated title is never shown under a
    /// limit: nobody has said it is for children.
    pub fn allows(self, min_age: Option<u8>) -> bool {
        match (self.max_age, min_age) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(max), Some(age)) => age <= max,
        }
    }
}

/// Whether a title may be shown under `limit`: a rated title by the
/// youngest age its rating is for; an unrated one (the MovieLens demo has
/// no ratings), under a limit, only when its genres say it is for children
/// (`kids_by_genre`: one of the operator's kids genres, none of the
/// excluded ones). The same rule as [`Audience::bounds`], which gives it to
/// queries.
pub fn visible(limit: Limit, min_age: Option<u8>, kids_by_genre: bool) -> bool {
    match (limit.max_age, min_age) {
        (None, _) => true,
        (Some(_), None) => kids_by_genre,
        (Some(max), Some(age)) => age <= max,
    }
}

/// Whether an unrated title's genres mark it for children.
pub fn kids_by_genre(genres: &[String], kids: &[String], excluded: &[String]) -> bool {
    genres.iter().any(|g| kids.contains(g)) && !genres.iter().any(|g| excluded.contains(g))
}

/// Who is looking: a profile's limit and the operator's kids genres.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience {
    /// The profile's limit.
    pub limit: Limit,
    /// Genres that mark an unrated title for children.
    pub kids_genres: Vec<String>,
    /// Genres that keep an unrated title from children whatever else it is.
    pub excluded_genres: Vec<String>,
}

/// [`visible`] as comparisons a query filters by: a rated title passes when
/// its youngest age is at most `max_age`; an unrated one when it has one of
/// `kids_genres` and none of `excluded_genres`. `None`: everything passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds<'a> {
    /// The highest youngest age.
    pub max_age: u8,
    /// See [`Audience::kids_genres`].
    pub kids_genres: &'a [String],
    /// See [`Audience::excluded_genres`].
    pub excluded_genres: &'a [String],
}

impl Audience {
    /// The bounds a query applies, `None` when the audience has no limit.
    pub fn bounds(&self) -> Option<Bounds<'_>> {
        self.limit.max_age.map(|max_age| Bounds {
            max_age,
            kids_genres: &self.kids_genres,
            excluded_genres: &self.excluded_genres,
        })
    }

    /// The rule for one title.
    pub fn allows(&self, min_age: Option<u8>, genres: &[String]) -> bool {
        visible(
            self.limit,
            min_age,
            kids_by_genre(genres, &self.kids_genres, &self.excluded_genres),
        )
    }
}

impl Default for Limit {
    fn default() -> Self {
        Limit::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<(System, String, u8)> {
        parse(s, &OperatorSystem::default()).map(|r| (r.system, r.code, r.min_age))
    }

    #[test]
    fn catalogs_spellings_parse() {
        assert_eq!(p("PG-13"), Some((System::Mpaa, "PG-13".into(), 13)));
        assert_eq!(p("Rated R"), Some((System::Mpaa, "R".into(), 17)));
        assert_eq!(p("US:PG"), Some((System::Mpaa, "PG".into(), 8)));
        assert_eq!(p("us:tv-ma"), Some((System::Tv, "TV-MA".into(), 17)));
        assert_eq!(p("TV-Y7"), Some((System::Tv, "TV-Y7".into(), 7)));
        assert_eq!(p("pg13"), Some((System::Mpaa, "PG-13".into(), 13)));
        assert_eq!(
            p("Rated PG-13 for some violence"),
            Some((System::Mpaa, "PG-13".into(), 13))
        );
        assert_eq!(p("NR"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("Not Rated"), None);
    }

    #[test]
    fn operator_ratings_come_first_and_must_be_ordered() {
        let op = OperatorSystem {
            ratings: vec![("ALL".into(), 0), ("12".into(), 12), ("18".into(), 18)],
        };
        assert!(op.check().is_ok());
        let r = parse("12", &op).map(|r| (r.system, r.min_age));
        assert_eq!(r, Some((System::Operator, 12)));
        let bad = OperatorSystem {
            ratings: vec![("18".into(), 18), ("ALL".into(), 0)],
        };
        assert!(bad.check().is_err());
        let twice = OperatorSystem {
            ratings: vec![("A".into(), 0), ("a".into(), 3)],
        };
        assert!(twice.check().is_err());
    }

    #[test]
    fn kids_see_the_youngest_band_only() {
        let allowed: Vec<&str> = MPAA
            .iter()
            .chain(TV)
            .filter(|(_, age)| Limit::KIDS.allows(Some(*age)))
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(allowed, vec!["G", "TV-Y", "TV-G", "TV-Y7"]);
        assert!(!Limit::KIDS.allows(None), "unrated is not for children");
        assert!(Limit::NONE.allows(None));
        assert!(Limit::NONE.allows(Some(18)));
    }

    #[test]
    fn unrated_titles_reach_children_only_by_their_genres() {
        let a = Audience {
            limit: Limit::KIDS,
            kids_genres: vec!["Children".into(), "Animation".into()],
            excluded_genres: vec!["Horror".into()],
        };
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(a.allows(None, &g(&["Animation", "Comedy"])));
        assert!(!a.allows(None, &g(&["Animation", "Horror"])));
        assert!(!a.allows(None, &g(&["Drama"])));
        // A rating decides over genres, both ways.
        assert!(!a.allows(Some(13), &g(&["Children"])));
        assert!(a.allows(Some(0), &g(&["Horror"])));
        let adult = Audience::default();
        assert!(adult.allows(None, &g(&["Horror"])));
        assert!(adult.bounds().is_none());
        assert_eq!(a.bounds().map(|b| b.max_age), Some(KIDS_MAX_AGE));
    }
}
